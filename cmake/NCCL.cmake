# Finds NCCL (header nccl.h and library libnccl) for the NCCL communicator; included by
# Dependencies.cmake, and by tests/common/nccl_probe to test the search on its own.
#   webssl_find_nccl(<hint dirs...>) sets NCCL_INCLUDE_DIR, NCCL_LIBRARY, NCCL_VERSION and
#   NCCL_SOURCE (where it came from) in the caller's scope; NCCL_LIBRARY is false when not found.
# Looked for, first found wins:
#   1. WEBSSL_NCCL_ROOT (CMake variable or environment), and only there when it is set;
#   2. the hint directories (the CUDA toolkit's) and the system's default paths;
#   3. the `nvidia-nccl` wheel of a Python (WEBSSL_PYTHON, else python3 on the PATH): its
#      site-packages/nvidia/nccl/{include,lib}, which holds libnccl.so.2 without the unversioned
#      link name that find_library looks for, hence the versioned name below.
set(_webssl_nccl_names nccl libnccl.so.2)

function(_webssl_nccl_search)
  cmake_parse_arguments(S "NO_DEFAULT_PATH" "" "HINTS" ${ARGN})
  set(_nodefault)
  if(S_NO_DEFAULT_PATH)
    set(_nodefault NO_DEFAULT_PATH)
  endif()
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${S_HINTS} PATH_SUFFIXES include ${_nodefault})
  find_library(NCCL_LIBRARY NAMES ${_webssl_nccl_names} HINTS ${S_HINTS}
               PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu ${_nodefault})
endfunction()

macro(webssl_find_nccl)
  set(_hints ${ARGN})
  set(NCCL_SOURCE "")
  if(NOT WEBSSL_NCCL_ROOT AND DEFINED ENV{WEBSSL_NCCL_ROOT})
    set(WEBSSL_NCCL_ROOT "$ENV{WEBSSL_NCCL_ROOT}")
  endif()
  if(WEBSSL_NCCL_ROOT)
    _webssl_nccl_search(HINTS "${WEBSSL_NCCL_ROOT}" NO_DEFAULT_PATH)
    set(NCCL_SOURCE "WEBSSL_NCCL_ROOT")
  else()
    _webssl_nccl_search(HINTS ${_hints})
    set(NCCL_SOURCE "CUDA toolkit or system")
    if(NOT NCCL_INCLUDE_DIR OR NOT NCCL_LIBRARY)
      set(_pythons)
      if(WEBSSL_PYTHON AND EXISTS "${WEBSSL_PYTHON}")
        list(APPEND _pythons "${WEBSSL_PYTHON}")
      endif()
      find_program(WEBSSL_NCCL_PYTHON3 python3)
      if(WEBSSL_NCCL_PYTHON3)
        list(APPEND _pythons "${WEBSSL_NCCL_PYTHON3}")
      endif()
      foreach(_py ${_pythons})
        execute_process(COMMAND "${_py}" -c "import nvidia.nccl; print(list(nvidia.nccl.__path__)[0])"
                        OUTPUT_VARIABLE _wheel OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET
                        RESULT_VARIABLE _rc TIMEOUT 60)
        if(_rc EQUAL 0 AND IS_DIRECTORY "${_wheel}")
          unset(NCCL_INCLUDE_DIR CACHE)
          unset(NCCL_LIBRARY CACHE)
          _webssl_nccl_search(HINTS "${_wheel}" NO_DEFAULT_PATH)
          if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
            set(NCCL_SOURCE "Python wheel of ${_py}")
            break()
          endif()
        endif()
      endforeach()
    endif()
  endif()
  set(NCCL_VERSION "")
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    file(STRINGS "${NCCL_INCLUDE_DIR}/nccl.h" _nccl_v REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) +[0-9]+")
    string(REGEX REPLACE "#define NCCL_[A-Z]+ +" "" _nccl_v "${_nccl_v}")
    string(REPLACE ";" "." NCCL_VERSION "${_nccl_v}")
  else()
    set(NCCL_LIBRARY FALSE)
  endif()
endmacro()
