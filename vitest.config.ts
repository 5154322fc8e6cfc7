import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['test/node/**', 'node_modules/**', 'dist/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start brokers and child processes; on a 2-core machine
    // two workers keep them from starving each other.
    maxWorkers: 2,
  },
})
