# SPDX-License-Identifier: MIT
# tunnel_pytest_groups(LABELS ... ENV ... GROUPS ...): one CTest test per group of pytest files
# (Debian's /usr/bin/python3), run from the calling directory, so that `ctest -j` runs the groups
# side by side. A group is "name=file1,file2" or "name=file1,file2=EXPR": the files' cases that
# pytest's -k EXPR selects (one long file split in two by EXPR and "not (EXPR)"; no match fails).
function(tunnel_pytest_groups)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "" "LABELS;ENV;GROUPS")
  foreach(group ${arg_GROUPS})
    string(REPLACE "=" ";" parts "${group}")
    list(GET parts 0 name)
    list(GET parts 1 files)
    string(REPLACE "," ";" files ${files})
    set(select)
    list(LENGTH parts n)
    if(n GREATER 2)
      list(GET parts 2 expr)
      set(select -k "${expr}")
    endif()
    set(paths)
    foreach(f ${files})
      list(APPEND paths ${CMAKE_CURRENT_SOURCE_DIR}/${f})
    endforeach()
    add_test(NAME ${name}
      COMMAND /usr/bin/python3 -m pytest -q -rfEsxX --tb=short -p no:cacheprovider ${select} ${paths}
      WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    set_tests_properties(${name} PROPERTIES ENVIRONMENT "${arg_ENV}" TIMEOUT 1200 LABELS "${arg_LABELS}")
  endforeach()
endfunction()
