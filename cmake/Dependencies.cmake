# Finds every dependency and prints one line per optional or required part:
#   -- webssl: MPI      found (Open MPI 4.1)
# Required parts (MPI, HDF5, BLAS, OpenMP and the small libraries) stop the configure step when
# missing; CUDA and NCCL follow WEBSSL_CUDA / WEBSSL_NCCL (AUTO, ON, OFF). pkg-config is the
# build host's, or the one in the offline bundle (launch/bundle, launch/offline-env).
find_package(PkgConfig REQUIRED)

function(webssl_report part status)
  message(STATUS "webssl: ${part} ${status}")
endfunction()

# --- MPI ------------------------------------------------------------------
find_package(MPI COMPONENTS C)
if(NOT MPI_C_FOUND)
  message(FATAL_ERROR "webssl: MPI not found (install libopenmpi-dev openmpi-bin)")
endif()
execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _mpi_version ERROR_QUIET)
string(REGEX REPLACE "\n.*" "" _mpi_version "${_mpi_version}")
webssl_report("MPI     " "found (MPI ${MPI_C_VERSION}, ${_mpi_version})")

# --- HDF5 -----------------------------------------------------------------
pkg_check_modules(HDF5 IMPORTED_TARGET hdf5-serial)
if(NOT HDF5_FOUND)
  pkg_check_modules(HDF5 IMPORTED_TARGET hdf5)
endif()
if(NOT HDF5_FOUND)
  message(FATAL_ERROR "webssl: HDF5 not found (install libhdf5-dev)")
endif()
webssl_report("HDF5    " "found (${HDF5_VERSION})")

# --- BLAS (OpenBLAS, cblas interface) -------------------------------------
pkg_check_modules(BLAS IMPORTED_TARGET openblas)
if(NOT BLAS_FOUND)
  message(FATAL_ERROR "webssl: BLAS not found (install libopenblas-dev)")
endif()
webssl_report("BLAS    " "found (OpenBLAS ${BLAS_VERSION})")

# --- oneDNN (optional GEMM paths of the CPU backend) -----------------------
set(WEBSSL_HAVE_DNNL OFF)
if(NOT WEBSSL_ONEDNN STREQUAL "OFF")
  # By header and library: Debian's dnnl-config.cmake also demands OpenCL, which the CPU path
  # does not use.
  find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.h)
  find_library(DNNL_LIBRARY dnnl)
  if(DNNL_INCLUDE_DIR AND DNNL_LIBRARY)
    set(WEBSSL_HAVE_DNNL ON)
    file(STRINGS "${DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h" _dnnl_v REGEX "define DNNL_VERSION_(MAJOR|MINOR|PATCH) ")
    string(REGEX REPLACE "[^0-9;]" "" _dnnl_v "${_dnnl_v}")
    string(REPLACE ";" "." dnnl_VERSION "${_dnnl_v}")
    webssl_report("oneDNN  " "found (${dnnl_VERSION})")
  elseif(WEBSSL_ONEDNN STREQUAL "ON")
    message(FATAL_ERROR "webssl: oneDNN asked for (WEBSSL_ONEDNN=ON) but not found (install libdnnl-dev)")
  else()
    webssl_report("oneDNN  " "not found (OpenBLAS GEMMs only)")
  endif()
else()
  webssl_report("oneDNN  " "off (WEBSSL_ONEDNN=OFF)")
endif()

# --- OpenMP ---------------------------------------------------------------
find_package(OpenMP COMPONENTS C)
if(NOT OpenMP_C_FOUND)
  message(FATAL_ERROR "webssl: OpenMP not found")
endif()
webssl_report("OpenMP  " "found (${OpenMP_C_VERSION})")

# --- small libraries: image codecs, tar, JSON, YAML, SHA-256 -----------------------
foreach(lib libjpeg libturbojpeg libpng libwebp libwebpdemux libarchive libcjson yaml-0.1 libcrypto)
  string(MAKE_C_IDENTIFIER "${lib}" _id)
  string(TOUPPER "${_id}" _id)
  pkg_check_modules(${_id} IMPORTED_TARGET ${lib})
  if(NOT ${_id}_FOUND)
    message(FATAL_ERROR "webssl: ${lib} not found (see launch/install-deps)")
  endif()
endforeach()
find_library(GIF_LIBRARY gif)
find_path(GIF_INCLUDE_DIR gif_lib.h)
if(NOT GIF_LIBRARY OR NOT GIF_INCLUDE_DIR)
  message(FATAL_ERROR "webssl: giflib not found (install libgif-dev)")
endif()
webssl_report("codecs  " "found (libjpeg-turbo ${LIBTURBOJPEG_VERSION}, libpng ${LIBPNG_VERSION}, libwebp ${LIBWEBP_VERSION}, giflib)")
webssl_report("archive " "found (libarchive ${LIBARCHIVE_VERSION})")
webssl_report("crypto  " "found (OpenSSL libcrypto ${LIBCRYPTO_VERSION}: SHA-256 of shard manifests and weights)")

# --- libcurl: http(s):// input shards -------------------------------------
pkg_check_modules(LIBCURL IMPORTED_TARGET libcurl>=7.85)
if(NOT LIBCURL_FOUND)
  message(FATAL_ERROR "webssl: libcurl >= 7.85 not found (install libcurl4-openssl-dev)")
endif()
webssl_report("curl    " "found (libcurl ${LIBCURL_VERSION})")

# --- CUDA -----------------------------------------------------------------
set(WEBSSL_HAVE_CUDA OFF)
if(NOT WEBSSL_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    find_package(CUDAToolkit)
  endif()
  if(CMAKE_CUDA_COMPILER AND CUDAToolkit_FOUND)
    set(WEBSSL_HAVE_CUDA ON)
    set(WEBSSL_CUDA_ARCHITECTURES "90" CACHE STRING "GPU architectures to compile for (CMake CUDA_ARCHITECTURES list, e.g. 80;90)")
    webssl_report("CUDA    " "found (${CUDAToolkit_VERSION}, ${CMAKE_CUDA_COMPILER}, sm ${WEBSSL_CUDA_ARCHITECTURES})")
  elseif(WEBSSL_CUDA STREQUAL "ON")
    message(FATAL_ERROR "webssl: CUDA asked for (WEBSSL_CUDA=ON) but nvcc or the toolkit was not found")
  else()
    webssl_report("CUDA    " "not found (CPU backend only)")
  endif()
else()
  webssl_report("CUDA    " "off (WEBSSL_CUDA=OFF)")
endif()

# --- NCCL -----------------------------------------------------------------
set(WEBSSL_HAVE_NCCL OFF)
if(NOT WEBSSL_NCCL STREQUAL "OFF" AND WEBSSL_HAVE_CUDA)
  # The toolkit, the system, WEBSSL_NCCL_ROOT or a Python's nvidia-nccl wheel (cmake/NCCL.cmake).
  include(${CMAKE_CURRENT_LIST_DIR}/NCCL.cmake)
  webssl_find_nccl(${CUDAToolkit_INCLUDE_DIRS} ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT})
  if(NCCL_LIBRARY)
    set(WEBSSL_HAVE_NCCL ON)
    webssl_report("NCCL    " "found (${NCCL_VERSION}, ${NCCL_LIBRARY}, ${NCCL_SOURCE})")
  endif()
endif()
# The toolkit's and NCCL's library directories go into the programs' RUNPATH: a node whose loader
# is not configured for them (no ld.so.conf entry, nothing in LD_LIBRARY_PATH) still runs them.
# A link option, since CMake leaves the compiler's implicit directories (the toolkit's) out of
# its own RPATH.
if(WEBSSL_HAVE_CUDA)
  add_link_options("LINKER:-rpath,${CUDAToolkit_LIBRARY_DIR}")
endif()
if(WEBSSL_HAVE_NCCL)
  get_filename_component(_nccl_dir "${NCCL_LIBRARY}" DIRECTORY)
  add_link_options("LINKER:-rpath,${_nccl_dir}")
endif()
if(NOT WEBSSL_HAVE_NCCL)
  if(WEBSSL_NCCL STREQUAL "ON")
    message(FATAL_ERROR "webssl: NCCL asked for (WEBSSL_NCCL=ON) but not found (needs CUDA and NCCL: libnccl-dev, a Python's nvidia-nccl wheel, or WEBSSL_NCCL_ROOT)")
  elseif(WEBSSL_NCCL STREQUAL "OFF")
    webssl_report("NCCL    " "off (WEBSSL_NCCL=OFF)")
  else()
    webssl_report("NCCL    " "not found (MPI communicator only)")
  endif()
endif()

# --- Python reference environment (tests only) ----------------------------
set(WEBSSL_PYTHON "${CMAKE_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "Python with torch, transformers, safetensors, timm, h5py (made by launch/install-deps)")
