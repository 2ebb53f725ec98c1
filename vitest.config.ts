import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      '{cli,core,runner,energy,media,quality,matrix,store,harness,master,agent,analyzers,advisor}/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    exclude: ['node_modules/**', 'results/**', 'bench/**', 'test/.work/**'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
