/* SPDX-License-Identifier: MIT */
/* mem_budget.c - see mem_budget.h. */
#include "mem_budget.h"

#include <stdlib.h>
#include <string.h>

struct mem_budget_group {
    struct mem_budget_group *next;
    size_t used;
    char name[MEM_BUDGET_GROUP_MAX];
};

/* The group named name, and where it is linked from; NULL when it counts nothing. Few groups
 * count bytes at once (a holder within its share never looks), so a list. */
static struct mem_budget_group **find(mem_budget *b, const char *name)
{
    struct mem_budget_group **g = &b->groups;
    while (*g && strncmp((*g)->name, name, MEM_BUDGET_GROUP_MAX - 1) != 0)
        g = &(*g)->next;
    return g;
}

bool mem_budget_charge(mem_budget *b, const char *group, size_t *charged, size_t share, size_t held)
{
    if (!b)
        return true;
    size_t want = held > share ? held - share : 0;
    if (want == *charged)
        return true;
    if (!b->limit || (group && !group[0]))
        group = NULL;
    struct mem_budget_group **at = group ? find(b, group) : &b->groups;
    struct mem_budget_group *g = group ? *at : NULL;
    if (want > *charged) {
        size_t add = want - *charged;
        if (b->limit && add > b->limit - b->used)
            return false;
        size_t part = b->limit / MEM_BUDGET_GROUP_PARTS;
        size_t in_group = g ? g->used : 0;
        if (group && (in_group >= part || add > part - in_group))
            return false;
        if (group && !g) {
            g = calloc(1, sizeof *g);
            if (!g)
                return false;
            strncpy(g->name, group, MEM_BUDGET_GROUP_MAX - 1);
            *at = g;
        }
    }
    b->used = b->used - *charged + want;
    if (g) {
        g->used = g->used > *charged ? g->used - *charged + want : want;
        if (!g->used) {
            *at = g->next;
            free(g);
        }
    }
    *charged = want;
    return true;
}

size_t mem_budget_group_used(const mem_budget *b, const char *group)
{
    if (!b || !group)
        return 0;
    for (const struct mem_budget_group *g = b->groups; g; g = g->next)
        if (strncmp(g->name, group, MEM_BUDGET_GROUP_MAX - 1) == 0)
            return g->used;
    return 0;
}
