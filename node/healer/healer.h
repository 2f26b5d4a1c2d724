/*  healer - the healer role of healbus-node: error intelligence, fix
    recommendation and learning, orchestration of fixes, and the journal,
    wired together (healer_intel, healer_catalog, healer_learn, healer_orch,
    healer_journal). Config keys are listed in docs/fix-catalog.md. */
#ifndef HEALER_H
#define HEALER_H

#include "node_role.h"

extern const node_role_t healer_role;

#endif
