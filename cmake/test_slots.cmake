# SPDX-License-Identifier: MIT
# Slots of `ctest -j`: `make test` runs ctest with TUNNEL_SLOTS_PER_CORE slots per core (Makefile:
# CTEST_JOBS), and tunnel_test_slots() makes every test of the calling directory take that many
# per core it keeps busy (its PROCESSORS, 1 unless set). So at most as many tests as cores run that
# use a core, and beside them tests labelled `waits` (they spend most of their time waiting on
# timers; one slot) may run: those are the only ones `make test` runs beyond the core count.
set(TUNNEL_SLOTS_PER_CORE 2)

function(tunnel_test_slots)
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(test ${tests})
    get_test_property(${test} LABELS labels)
    if(labels AND "waits" IN_LIST labels)
      continue()
    endif()
    get_test_property(${test} PROCESSORS cores)
    if(NOT cores)
      set(cores 1)
    endif()
    math(EXPR slots "${cores} * ${TUNNEL_SLOTS_PER_CORE}")
    set_tests_properties(${test} PROPERTIES PROCESSORS ${slots})
  endforeach()
endfunction()
