/* The debug build's answer to a misuse (misuse.h). */
#include "misuse.h"

#include <stdio.h>
#include <stdlib.h>

_Noreturn void corio__misuse_abort(const char *call, const char *what) {
  fprintf(stderr, "corio: %s: %s\n", call, what);
  fflush(stderr);
  abort();
}
