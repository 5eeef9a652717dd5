package torchtest

// #include <malloc.h>
// static long long gtl_malloc_in_use(void) { return (long long)mallinfo2().uordblks; }
import "C"

// MallocInUse returns the bytes of C heap (glibc malloc) chunks in use,
// summed over all arenas: mallinfo2's uordblks. Unlike the resident set
// size it does not depend on what the allocator returns to the system, so
// a loop's growth in it counts exactly the memory the loop kept.
func MallocInUse() int64 { return int64(C.gtl_malloc_in_use()) }
