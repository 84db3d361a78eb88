// The shared handler-plugin conformance suite, run against the cli plugin.
import { describeConformance } from '../../../sdk/conformance.js';
import { cliPlugin } from '../../../plugins/cli/index.js';
import { fixture, q } from './cli-harness.js';

const manifest = (name: string, command: string[], extra = '') =>
  `[provider]\nname = "${name}"\ndescription = "conformance"\nhandler = "cli"\ncli_command = ${q(command[0]!)}\ncli_default_args = ${JSON.stringify(command.slice(1))}\ncli_timeout_secs = 10\n${extra}\n[provider.cli_env]\nTOKEN = "\${cli_token}"\n`;

describeConformance({
  plugin: cliPlugin,
  manifest: manifest('conf_cli', [process.execPath, fixture('echo-argv.mjs')]),
  keyring: { cli_token: 'cli-conformance-secret-987' },
  call: { tool: 'conf_cli', args: { hello: 'world' } },
});

describeConformance({
  plugin: cliPlugin,
  manifest: manifest('conf_cli_fail', ['/bin/sh', fixture('fail.sh')]),
  keyring: { cli_token: 'cli-conformance-secret-654' },
  failingCall: { tool: 'conf_cli_fail', args: {} },
  slowCall: undefined,
});

describeConformance({
  plugin: cliPlugin,
  manifest: manifest('conf_cli_slow', ['/bin/sleep', '30']),
  keyring: { cli_token: 'cli-conformance-secret-321' },
  slowCall: { tool: 'conf_cli_slow', args: {} },
});
