/* The pause program of the pod sandbox that TestContainerdCRI runs: the
 * first container of a pod holds the sandbox until the pod is stopped. */
#include <unistd.h>

int main(void) {
	for (;;)
		pause();
}
