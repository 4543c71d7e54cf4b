import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const source = (file: string) => fileURLToPath(new URL(file, import.meta.url))

export default defineConfig({
  // The package's entry points as a user imports them, on the sources: the README's blocks run so.
  resolve: {
    alias: [
      { find: /^effect-kv$/, replacement: source("./src/index.ts") },
      { find: /^effect-kv\/otp$/, replacement: source("./src/otp/index.ts") },
      { find: /^effect-kv\/http$/, replacement: source("./src/http/index.ts") },
      { find: /^effect-kv\/persistence$/, replacement: source("./src/persistence.ts") }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    // Child-process and disk tests wait on real I/O; the machine is shared.
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
