/*
 * The system call filter msivd puts itself under once it serves
 * (sandbox.c; msivd(8), SANDBOX).
 */
#ifndef MSIVD_SANDBOX_H
#define MSIVD_SANDBOX_H

/*
 * Is the filter on by default in this build? Not in sanitizer builds:
 * LeakSanitizer stops the process with ptrace at exit, and the
 * sanitizers' run-times make system calls of their own (sandbox.c).
 */
int sandbox_default(void);
/* Why the default is off in this build (NULL when it is on). */
const char *sandbox_default_off_reason(void);

/*
 * Install the allow-list on every thread of the process (the delivery
 * thread included). A system call outside it kills the process with
 * SIGSYS after logging its number: to stderr when to_stderr, else to
 * syslog. Returns 0 or -errno (logged); the filter cannot be removed.
 */
int sandbox_enter(int to_stderr);

#endif /* MSIVD_SANDBOX_H */
