# SPDX-License-Identifier: MIT
# Slots of `ctest -j`: `make test` runs ctest with TUNNEL_SLOTS_PER_CORE slots per core (Makefile:
# CTEST_JOBS), and tunnel_test_slots() makes every test of the calling directory take that many
# per core it keeps busy (its PROCESSORS, 1 unless set). So no more tests run that keep a core
# busy than there are cores, and beside them tests labelled `waits` take one slot each: each
# measured to spend at most a quarter of its time on a CPU (the rest on timers and slow peers),
# three of them share a core (in a sanitizer build, whose checks multiply the CPU time, two slots:
# three on two cores). They are the only tests `make test` runs beyond the core count.
set(TUNNEL_SLOTS_PER_CORE 3)

function(tunnel_test_slots)
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(test ${tests})
    get_test_property(${test} LABELS labels)
    if(labels AND "waits" IN_LIST labels)
      if(TUNNEL_SANITIZE) # ASan and UBSan multiply the CPU time, not the timers: two slots
        set_tests_properties(${test} PROPERTIES PROCESSORS 2)
      endif()
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

# tunnel_test_costs(NAME SECONDS [NAME SECONDS ...]): about how long a test of the calling
# directory runs (a 2-vCPU VM, release build), for ctest to start the longest first where it has
# no measured times yet (Testing/Temporary/CTestCostData.txt: a fresh tree, as in CI).
function(tunnel_test_costs)
  set(args ${ARGN})
  while(args)
    list(POP_FRONT args name seconds)
    set_tests_properties(${name} PROPERTIES COST ${seconds})
  endwhile()
endfunction()
