// Runs mocha tests inside code-server's real extension host (the @vscode/test-web way): the page gets a payload with
// extensionDevelopmentPath + extensionTestsPath, and the test run's exit code comes back through window.codeAutomationExit.
// usage: node run-in-code-server.js <baseUrl> <workspaceFolder> <extensionDir> <testsEntry>
const { chromium } = require('playwright-core');

const [base, folder, extDir, testsPath] = process.argv.slice(2);
const TIMEOUT_MS = 8 * 60 * 1000;
(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const page = await browser.newPage();
  const authority = new URL(base).host;
  const payload = [['extensionDevelopmentPath', `vscode-remote://${authority}${extDir}`], ['extensionTestsPath', `vscode-remote://${authority}${testsPath}`]];
  const done = new Promise((resolve) => {
    page.exposeFunction('codeAutomationLog', (type, args) => console.log(...args));
    page.exposeFunction('codeAutomationExit', (code) => resolve(code));
  });
  const t0 = Date.now();
  await page.goto(`${base}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(JSON.stringify(payload))}`);
  const code = await Promise.race([done, new Promise((r) => setTimeout(() => r('timeout'), TIMEOUT_MS))]);
  console.log(`extension-host tests finished: exit=${code} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await browser.close();
  process.exit(code === 0 ? 0 : 1);
})().catch((e) => { console.error(e); process.exit(1); });
