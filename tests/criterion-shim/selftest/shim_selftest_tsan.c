/* Shim self-test, ThreadSanitizer part: a race reported during a test fails that test only;
 * a timeout ends the binary naming the test. Run by ../selftest.sh. */
#include <criterion/criterion.h>

static int shared;

static void *writer(void *arg)
{
    (void)arg;
    shared++;
    return NULL;
}

Test(race, unsynchronized_increment_is_reported)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, writer, NULL), 0);
    shared++;
    pthread_join(t, NULL);
}

Test(race, test_after_the_race_still_passes)
{
    cr_assert(1);
}

Test(time, hang_is_stopped_by_timeout, .timeout = 0.1)
{
    sleep(30);
}
