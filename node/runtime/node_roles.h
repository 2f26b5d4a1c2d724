/*  node_roles.h - the roles compiled into healbus-node.

    Each role folder builds a static library node_<role>; CMake defines
    HB_HAVE_ROLE_<ROLE> for node_roles.c when that target exists, so the
    binary builds (with fewer roles) before a role has landed.  Adding a
    role: its header exports `extern const node_role_t <role>_role;`, and
    node_roles.c lists it under its HB_HAVE_ROLE_ define (the define and
    the link come from node/runtime/CMakeLists.txt's role list). */

#ifndef NODE_ROLES_H
#define NODE_ROLES_H

#include "node_role.h"
#include <stddef.h>

/*  Number of roles compiled in, and the i-th (i < count), in a fixed order. */
size_t node_roles_count(void);
const node_role_t *node_roles_at(size_t i);

/*  The role called `name`, or NULL. */
const node_role_t *node_roles_find(const char *name);

#endif
