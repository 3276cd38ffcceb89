# SPDX-License-Identifier: MIT
# cmake -DSUBDIR=<tests dir> -DNODE=<path of node> -DWORK=<scratch dir> -DEXPECT=<test;names>
#   -DMAKE=<the build program> -P missing_dependency.cmake
# Configures SUBDIR alone in a scratch project where node cannot be found (its directories are
# ignored by find_program), then checks that every test in EXPECT is still registered and that
# each one fails: a missing dependency must fail the suite, never skip it (guide: "no skip where a
# dependency is missing").
foreach(v SUBDIR NODE WORK EXPECT MAKE)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "missing -D${v}")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/src)
file(WRITE ${WORK}/src/CMakeLists.txt
  "cmake_minimum_required(VERSION 3.16)\nproject(missing_dependency NONE)\nenable_testing()\n"
  "add_subdirectory(${SUBDIR} sub)\n")
# Every directory node is found in (the path found, its real path, and the usual bin dirs).
get_filename_component(node_dir ${NODE} DIRECTORY)
get_filename_component(node_real ${NODE} REALPATH)
get_filename_component(node_real_dir ${node_real} DIRECTORY)
set(hidden ${node_dir} ${node_real_dir} /usr/bin /bin /usr/local/bin /usr/sbin /sbin)
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${WORK}/src -B ${WORK}/build "-DCMAKE_IGNORE_PATH=${hidden}"
    -DCMAKE_MAKE_PROGRAM=${MAKE}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring ${SUBDIR} without node failed (${rc}):\n${out}\n${err}")
endif()
file(READ ${WORK}/build/CMakeCache.txt cache)
if(NOT cache MATCHES "NODE_EXECUTABLE:FILEPATH=NODE_EXECUTABLE-NOTFOUND")
  message(FATAL_ERROR "node was still found: the check proves nothing")
endif()
foreach(name ${EXPECT})
  execute_process(COMMAND ${CMAKE_CTEST_COMMAND} -R "^${name}$" --no-tests=error
    WORKING_DIRECTORY ${WORK}/build RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(FATAL_ERROR "${name} passed (or was skipped) without node:\n${out}\n${err}")
  endif()
  if(NOT out MATCHES "1 tests failed out of 1")
    message(FATAL_ERROR "${name} not registered without node:\n${out}\n${err}")
  endif()
  message(STATUS "${name}: registered and failing without node")
endforeach()
