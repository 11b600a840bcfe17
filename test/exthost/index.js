// Extension-host test entry (the @vscode/test-electron / test-web contract): export run(), which runs mocha.
const path = require('path');
const mochaModule = require('mocha');
const Mocha = mochaModule.default || mochaModule.Mocha || mochaModule; // mocha 12 is an ES module

exports.run = function run() {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 120000, reporter: 'spec' });
  mocha.addFile(path.join(__dirname, 'extension.test.js'));
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures ? reject(new Error(`${failures} extension-host tests failed`)) : resolve()));
  });
};
