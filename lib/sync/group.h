/* Task groups, for the layers above: spawn a member another way (a
 * connection's task, bound to a worker). */
#ifndef CORIO_SYNC_GROUP_H
#define CORIO_SYNC_GROUP_H

#include "corio/group.h"

/* Spawns fn(arg) as a detached task of rt: 0 or an error. */
typedef int (*corio__group_spawner_t)(corio_rt_t *rt, corio_task_fn fn, void *arg);

/* corio_group_spawn with spawner (NULL: corio_spawn). */
int corio__group_spawn_with(corio_group_t *g, corio_group_fn fn, void *arg,
                            corio__group_spawner_t spawner);

#endif
