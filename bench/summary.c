/*
 * The named ratios of issue 20, printed under fixed names so that runs
 * can be compared, with their goals beside them at the end of the run;
 * and the cross-checks of every count the bench relies on against the
 * counters of whoever else saw it (the target eventfds, msivd), so that a
 * rate can never rest on a miscount. The bench prints goals, it does not
 * pass or fail on them; a count that does not match fails the run.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "bench.h"

#define GOALS_MAX 16

static struct {
	const char *name;
	double value, goal;
	int at_least;
} goals[GOALS_MAX];
static int ngoals;

static char checked[2048];
static size_t nchecked;
static int overflow;  /* matched, but no room left to say so */

void
bench_goal(const char *name, double value, const char *unit, double goal,
    int at_least)
{
	figure(name, value, unit);
	if (ngoals == GOALS_MAX)
		bench_die("too many goals");
	goals[ngoals].name = name;
	goals[ngoals].value = value;
	goals[ngoals].goal = goal;
	goals[ngoals].at_least = at_least;
	ngoals++;
}

void
bench_goals(void)
{
	for (int i = 0; i < ngoals; i++) {
		int met = goals[i].at_least ? goals[i].value >= goals[i].goal :
		    goals[i].value <= goals[i].goal;

		bench_note("goal: %s %.3g %s %.3g: %s", goals[i].name,
		    goals[i].value, goals[i].at_least ? ">=" : "<=",
		    goals[i].goal, met ? "met" : "not met");
	}
}

void
bench_check(const char *what, uint64_t got, uint64_t want)
{
	int k;

	if (got != want)
		bench_die("COUNTS DO NOT MATCH: %s: %llu, expected %llu", what,
		    (unsigned long long)got, (unsigned long long)want);
	k = snprintf(checked + nchecked, sizeof(checked) - nchecked, "%s%s %llu",
	    nchecked ? "; " : "", what, (unsigned long long)got);
	if (k > 0 && (size_t)k < sizeof(checked) - nchecked)
		nchecked += (size_t)k;
	else {
		checked[nchecked] = '\0';
		overflow = 1;
	}
}

void
bench_checked(const char *group)
{
	bench_note("counts cross-checked: %s: %s%s", group,
	    nchecked ? checked : "nothing", overflow ? "; and more" : "");
	nchecked = 0;
	overflow = 0;
	checked[0] = '\0';
}
