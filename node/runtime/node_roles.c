/*  node_roles.c - the table of compiled-in roles (node_roles.h). */

#include "node_roles.h"

#include <string.h>

#ifdef HB_HAVE_ROLE_HEALER
#include "healer.h"
#endif
#ifdef HB_HAVE_ROLE_PREDICTOR
#include "predictor.h"
#endif
#ifdef HB_HAVE_ROLE_OPTIMIZER
#include "optimizer.h"
#endif
#ifdef HB_HAVE_ROLE_TUNER
#include "tuner.h"
#endif

static const node_role_t *const s_roles[] = {
#ifdef HB_HAVE_ROLE_HEALER
    &healer_role,
#endif
#ifdef HB_HAVE_ROLE_PREDICTOR
    &predictor_role,
#endif
#ifdef HB_HAVE_ROLE_OPTIMIZER
    &optimizer_role,
#endif
#ifdef HB_HAVE_ROLE_TUNER
    &tuner_role,
#endif
    NULL, // keeps the array non-empty before any role lands
};

size_t
node_roles_count(void)
{
    return sizeof s_roles / sizeof s_roles[0] - 1;
}

const node_role_t *
node_roles_at(size_t i)
{
    return i < node_roles_count() ? s_roles[i] : NULL;
}

const node_role_t *
node_roles_find(const char *name)
{
    for (size_t i = 0; name && i < node_roles_count(); i++)
        if (strcmp(s_roles[i]->name, name) == 0)
            return s_roles[i];
    return NULL;
}
