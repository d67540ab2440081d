{
  "targets": [
    {
      "target_name": "memory_release",
      "sources": ["native/memory-release.cc"]
    }
  ]
}
