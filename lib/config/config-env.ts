/**
 * The environment variable that names the configuration file when the command line does not
 * (lib/config/config-source.ts). Alone in its file so that the pipeline's bundled tools can name
 * it in their --help without bundling the configuration loader.
 */
export const CONFIG_ENV_VAR = 'DELIVERY_CONFIG';
