/* SPDX-License-Identifier: MIT */
/* mem_budget.c - see mem_budget.h. */
#include "mem_budget.h"

bool mem_budget_charge(mem_budget *b, size_t *charged, size_t share, size_t held)
{
    if (!b)
        return true;
    size_t want = held > share ? held - share : 0;
    if (want > *charged && b->limit && want - *charged > b->limit - b->used)
        return false;
    b->used = b->used - *charged + want;
    *charged = want;
    return true;
}
