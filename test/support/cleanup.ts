import { afterAll } from 'vitest';
import { killRunningRelays } from './relay-process.js';

// A failed assertion skips a test's own stop(); no relay may outlive its test file.
afterAll(async () => {
  await killRunningRelays();
});
