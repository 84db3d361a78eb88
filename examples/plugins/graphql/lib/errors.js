// @ts-check
/**
 * Errors this plugin throws. The host recognises any Error whose `code` is one
 * of its `ATI_ERR_*` codes, so the plugin needs no runtime import from
 * ati-proxy: the code picks the HTTP status (ATI_ERR_UPSTREAM → 502,
 * ATI_ERR_UPSTREAM_TIMEOUT → 504, ATI_ERR_TOOL_ARGS → 400) and `details` lands
 * in the host's log line for the call. Messages must never carry a secret.
 */

/** @typedef {'ATI_ERR_UPSTREAM' | 'ATI_ERR_UPSTREAM_TIMEOUT' | 'ATI_ERR_TOOL_ARGS' | 'ATI_ERR_CONFIG'} GraphqlErrorCode */

export class GraphqlPluginError extends Error {
  /**
   * @param {GraphqlErrorCode} code
   * @param {string} message
   * @param {Record<string, unknown>} [details]
   */
  constructor(code, message, details) {
    super(message);
    this.name = 'GraphqlPluginError';
    /** @readonly */
    this.code = code;
    /** @readonly */
    this.details = details ?? {};
  }
}

/**
 * @param {string} summary
 * @param {Record<string, unknown>} [details]
 */
export function upstreamError(summary, details) {
  return new GraphqlPluginError('ATI_ERR_UPSTREAM', `Upstream API error: ${summary}`, { upstream_error: summary, ...details });
}

/** @param {string} summary */
export function upstreamTimeout(summary) {
  return new GraphqlPluginError('ATI_ERR_UPSTREAM_TIMEOUT', `Upstream API error: ${summary}`, { upstream_error: summary });
}

/** @param {string} message */
export function badArgs(message) {
  return new GraphqlPluginError('ATI_ERR_TOOL_ARGS', message);
}
