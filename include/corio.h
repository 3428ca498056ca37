/* corio.h: the umbrella header. Include this, link corio::corio (CMake) or
 * `pkg-config --cflags --libs corio`. Each area has its own header under
 * corio/, which this one pulls in. */
#ifndef CORIO_H
#define CORIO_H

#include <uv.h>

#include "corio/version.h"
#include "corio/coro.h"
#include "corio/rt.h"
#include "corio/uv.h"
#include "corio/sync.h"
#include "corio/chan.h"
#include "corio/group.h"
#include "corio/net.h"
#include "corio/http.h"
#include "corio/http_client.h"
#include "corio/process.h"
#include "corio/signal.h"

#endif
