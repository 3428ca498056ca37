/* corio/version.h: version and the export macro every public header uses. */
#ifndef CORIO_VERSION_H
#define CORIO_VERSION_H

#define CORIO_VERSION_MAJOR 0
#define CORIO_VERSION_MINOR 2
#define CORIO_VERSION_PATCH 0

#if defined(_WIN32)
#define CORIO_API
#elif defined(__GNUC__)
#define CORIO_API __attribute__((visibility("default")))
#else
#define CORIO_API
#endif

#endif
