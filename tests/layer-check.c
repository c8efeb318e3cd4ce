/*
 * layer-check.c - the program of meson.build's layer checks: it links one
 * controller library whole against only the layers below it, to prove that
 * the library calls nothing above (ARCHITECTURE §8).  It is never run.
 */
#include "common/banned.h"

int main(void);

int main(void)
{
    return 0;
}
