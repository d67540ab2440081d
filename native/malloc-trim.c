/*
 * malloc_trim(0) for Node (src/server/memory-trim.ts). glibc returns its heap's free pages to the OS
 * only at the top of the heap; free pages below live allocations (the optimising compiler's zone
 * memory, response bodies) stay resident until malloc_trim walks the heap and releases them.
 * Elsewhere (musl, macOS) `supported` is false and `trim()` does nothing.
 */
#include <node_api.h>
#if defined(__GLIBC__)
#include <malloc.h>
#define TRIM_SUPPORTED 1
#else
#define TRIM_SUPPORTED 0
#endif

/* trim(): true when glibc released memory to the OS. */
static napi_value Trim(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#if TRIM_SUPPORTED
  released = malloc_trim(0);
#endif
  napi_value result;
  napi_get_boolean(env, released != 0, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value trim, supported;
  napi_create_function(env, "trim", NAPI_AUTO_LENGTH, Trim, NULL, &trim);
  napi_set_named_property(env, exports, "trim", trim);
  napi_get_boolean(env, TRIM_SUPPORTED, &supported);
  napi_set_named_property(env, exports, "supported", supported);
  return exports;
}
