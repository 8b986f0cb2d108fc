# Checks plant_defect.cmake itself (test emu_defect_pattern): a defect is still found in a
# reformatted kernel (whitespace collapsed, every ';' and ',' moved to its own line), planting it
# changes only the matched code, and a defect whose code has gone stops with its name.
#   cmake -DSCRIPT=plant_defect.cmake -DKERNEL=layernorm.cu -DWORK=dir -P plant_defect_check.cmake
file(MAKE_DIRECTORY ${WORK})
file(READ ${KERNEL} text)
string(REGEX REPLACE "[ \t]+" " " text "${text}")
string(REPLACE ";" "\n;\n" text "${text}")
string(REPLACE "," "\n ,\n" text "${text}")
file(WRITE ${WORK}/reformatted.cu "${text}")
file(WRITE ${WORK}/spec.cmake "set(FIND [==[for (int o = 16; o > 0; o >>= 1)]==])\nset(REPLACE [==[PLANTED]==])\n")
execute_process(COMMAND ${CMAKE_COMMAND} -DNAME=reformatted -DSPEC=${WORK}/spec.cmake -DSRC=${WORK}/reformatted.cu
                        -DOUT=${WORK}/planted.cu -P ${SCRIPT} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "FAIL: the defect was not found in the reformatted kernel:\n${err}")
endif()
file(READ ${WORK}/planted.cu planted)
string(FIND "${planted}" "PLANTED" at)
string(REPLACE "PLANTED" "" rest "${planted}")
string(REGEX REPLACE "[ \t\r\n]" "" rest "${rest}")
string(REGEX REPLACE "[ \t\r\n]" "" orig "${text}")
string(REGEX REPLACE "for\\(into=16;o>0;o>>=1\\)" "" orig "${orig}")
if(at EQUAL -1 OR NOT rest STREQUAL orig)
  message(FATAL_ERROR "FAIL: planting changed more than the matched code")
endif()
message(STATUS "ok   defect found in a reformatted kernel and planted in place")

file(WRITE ${WORK}/gone.cmake "set(FIND [==[__syncthreads_that_was_removed();]==])\nset(REPLACE [==[]==])\n")
execute_process(COMMAND ${CMAKE_COMMAND} -DNAME=vanished_edit -DSPEC=${WORK}/gone.cmake -DSRC=${KERNEL}
                        -DOUT=${WORK}/gone.cu -P ${SCRIPT} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "planted defect 'vanished_edit'.*occurs 0 times")
  message(FATAL_ERROR "FAIL: a vanished edit did not stop with the defect's name (status ${rc}):\n${err}")
endif()
message(STATUS "ok   a vanished edit stops, naming the defect")
