# The warning set every corio target is built with (CORIO_WERROR makes them
# errors; the dev preset turns it on).
function(corio_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion
      -Wsign-conversion -Wstrict-prototypes -Wmissing-prototypes
      -Wpointer-arith -Wcast-qual -Wformat=2 -Wundef>)
  if(CORIO_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:C>:-Werror>)
  endif()
endfunction()
