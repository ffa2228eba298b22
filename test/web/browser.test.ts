/** Without Chromium the console's end-to-end tests fail, saying how to install it (never a skip). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { launchBrowser } from './browser.js';

describe('browser for the console tests', () => {
  it('fails with the install command when Chromium is missing', async () => {
    await assert.rejects(launchBrowser('http://127.0.0.1:1', '/nonexistent/chromium'), /Chromium is not installed .*apt-get update && apt-get install -y chromium/);
  });
});
