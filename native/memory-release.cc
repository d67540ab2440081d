/*
 * Gives memory the daemon no longer uses back to the OS (src/server/memory-release.ts).
 *
 * trimCHeap(): glibc's malloc_trim(0). glibc returns freed memory by itself only from the top of its
 * heap; free pages below a live allocation stay resident until malloc_trim walks the heap and releases
 * them. Elsewhere (musl, macOS) `cHeapTrimSupported` is false and the call does nothing.
 *
 * reduceV8Heap(): tells V8 of moderate memory pressure, which starts an incremental, memory-reducing
 * mark-compact (the kind V8's own memory reducer runs): the heap is compacted, the young generation
 * shrunk and unused pages released. The level goes back to none at once, so that V8 keeps its usual
 * heuristics and a later call starts another such collection. The V8 API is not ABI-stable: `npm ci`
 * compiles this file for the Node that runs it.
 */
#include <node_api.h>
#include <v8.h>
#if defined(__GLIBC__)
#include <malloc.h>
#define C_HEAP_TRIM_SUPPORTED true
#else
#define C_HEAP_TRIM_SUPPORTED false
#endif

namespace {

napi_value TrimCHeap(napi_env env, napi_callback_info) {
  bool released = false;
#if defined(__GLIBC__)
  released = malloc_trim(0) != 0;
#endif
  napi_value result;
  napi_get_boolean(env, released, &result);
  return result;
}

napi_value ReduceV8Heap(napi_env env, napi_callback_info) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kModerate);
  isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kNone);
  napi_value result;
  napi_get_undefined(env, &result);
  return result;
}

void Export(napi_env env, napi_value exports, const char* name, napi_callback fn) {
  napi_value value;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &value);
  napi_set_named_property(env, exports, name, value);
}

}  // namespace

NAPI_MODULE_INIT() {
  Export(env, exports, "trimCHeap", TrimCHeap);
  Export(env, exports, "reduceV8Heap", ReduceV8Heap);
  napi_value supported;
  napi_get_boolean(env, C_HEAP_TRIM_SUPPORTED, &supported);
  napi_set_named_property(env, exports, "cHeapTrimSupported", supported);
  return exports;
}
