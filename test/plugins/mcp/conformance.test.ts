/** The shared handler-plugin conformance suite, run on the mcp plugin against the stdio fixture server. */
import { describeConformance } from '../../../sdk/conformance.js';
import { mcpPlugin } from '../../../plugins/mcp/index.js';
import { stdioManifest } from './helpers.js';

describeConformance({
  plugin: mcpPlugin,
  manifest: stdioManifest('conf', { env: { API_TOKEN: '${conf_token}' } }),
  keyring: { conf_token: 'conformance-secret-value' },
  call: { tool: 'conf:echo', args: { text: 'hello' } },
  failingCall: { tool: 'conf:fail', args: {} },
  slowCall: { tool: 'conf:hang', args: {} },
});
