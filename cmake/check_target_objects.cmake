# Fails where an object of one CPU target's copy of the kernels (compiled with that target's vector
# flags) defines an external symbol that does not mention the target's namespace: an inline function
# or template instantiation shared with other objects, of which the linker keeps one copy for every
# caller, possibly this target's (AVX-512 code then runs on machines without AVX-512).
#
#   cmake -DNM=nm -DMANGLED=7tessera3cpu4avx2 -DOBJECTS="a.o;b.o" -P check_target_objects.cmake
foreach(object IN LISTS OBJECTS)
  execute_process(COMMAND "${NM}" --defined-only --extern-only "${object}"
                  OUTPUT_VARIABLE symbols RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${object}")
  endif()
  string(REPLACE "\n" ";" lines "${symbols}")
  set(shared "")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^[0-9a-fA-F]* *[A-Za-z] " "" name "${line}")
    # (the personality routine's reference is the same data in every object)
    if(name STREQUAL "" OR name STREQUAL "DW.ref.__gxx_personality_v0")
      continue()
    endif()
    string(FIND "${name}" "${MANGLED}" at)
    if(at EQUAL -1)
      list(APPEND shared "${name}")
    endif()
  endforeach()
  if(shared)
    string(REPLACE ";" "\n  " shared "${shared}")
    message(FATAL_ERROR "${object} defines symbols outside its target's namespace (move them to a file "
                        "compiled once, or into the namespace):\n  ${shared}")
  endif()
endforeach()
message(STATUS "${MANGLED}: no shared symbols")
