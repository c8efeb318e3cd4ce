/*
 * banned.h - functions stratus code must not call (after git's banned.h).
 *
 * Included last by every .c file through common.h.  Each banned name is
 * redefined to an undeclared identifier so that a use fails to compile with
 * a message naming the function.  Reasons: shells (system, popen), unbounded
 * or truncating string copies (sprintf, strcpy, strcat, strncpy), hidden
 * state (strtok, gmtime, localtime), unchecked parsing (atoi), races (mktemp).
 */
#ifndef ST_BANNED_H
#define ST_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef system
#define system(x) BANNED(system)
#undef popen
#define popen(x, y) BANNED(popen)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef gmtime
#define gmtime(x) BANNED(gmtime)
#undef localtime
#define localtime(x) BANNED(localtime)
#undef mktemp
#define mktemp(x) BANNED(mktemp)

#endif
