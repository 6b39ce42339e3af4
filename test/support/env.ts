// The jest suite tests fixed configurations: the built-in defaults and its own files. An operator's
// DELIVERY_CONFIG (lib/config/config-source.ts) must not change what it tests; the tests that are
// about DELIVERY_CONFIG set it themselves.
delete process.env.DELIVERY_CONFIG;
