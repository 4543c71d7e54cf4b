import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Child-process and disk tests wait on real I/O; the machine is shared.
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
