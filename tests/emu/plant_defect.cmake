# Plants one defect (tests/emu/CMakeLists.txt, webssl_emu_defect): a build step run with cmake -P
# each time the source file changes, so a defect is always made from the current text, never from
# a stale copy.
#   cmake -DNAME=defect -DSPEC=spec.cmake -DSRC=file -DOUT=copy -P plant_defect.cmake
# SPEC sets FIND and REPLACE. FIND is matched token by token, any whitespace (line breaks included)
# allowed between tokens, so a reformatted source still matches; it must match exactly once, else
# the build stops here naming the defect.
include(${SPEC})
file(READ ${SRC} text)
# ';' separates CMake list items and '[' ']' group them: stand each in for a control character
# that C source never holds, and back at the end.
string(ASCII 1 semi)
string(ASCII 2 open)
string(ASCII 3 close)
set(FIND_AS_GIVEN "${FIND}")
foreach(var text FIND)
  string(REPLACE ";" "${semi}" ${var} "${${var}}")
  string(REPLACE "[" "${open}" ${var} "${${var}}")
  string(REPLACE "]" "${close}" ${var} "${${var}}")
endforeach()

# The regex of FIND: identifiers and numbers as they are, every other character literal, optional
# whitespace between tokens.
set(ws "[ \t\r\n]*")
string(REGEX MATCHALL "[A-Za-z0-9_]+|[^A-Za-z0-9_ \t\r\n]" tokens "${FIND}")
set(regex "")
foreach(tok IN LISTS tokens)
  if(tok MATCHES "^[A-Za-z0-9_]+$")
    set(piece "${tok}")
  elseif(tok STREQUAL "^")
    set(piece "\\^")
  elseif(tok STREQUAL "\\")
    set(piece "\\\\")
  else()
    set(piece "[${tok}]")
  endif()
  if(regex STREQUAL "")
    set(regex "${piece}")
  else()
    string(APPEND regex "${ws}${piece}")
  endif()
endforeach()

string(REGEX MATCHALL "${regex}" hits "${text}")
list(LENGTH hits n)
if(NOT n EQUAL 1)
  get_filename_component(file ${SRC} NAME)
  message(FATAL_ERROR "planted defect '${NAME}': the code it edits occurs ${n} times in ${file}, not once "
                      "(the kernel changed): update webssl_emu_defect(${NAME} ...) in tests/emu/CMakeLists.txt.\n"
                      "It looks for: ${FIND_AS_GIVEN}")
endif()
string(REGEX MATCH "${regex}" hit "${text}")
string(FIND "${text}" "${hit}" at)
string(LENGTH "${hit}" len)
string(SUBSTRING "${text}" 0 ${at} before)
math(EXPR after_at "${at} + ${len}")
string(SUBSTRING "${text}" ${after_at} -1 after)
set(text "${before}${REPLACE}${after}")
string(REPLACE "${semi}" ";" text "${text}")
string(REPLACE "${open}" "[" text "${text}")
string(REPLACE "${close}" "]" text "${text}")
file(WRITE ${OUT} "${text}")   # newer than its sources: the step reruns only when they change
