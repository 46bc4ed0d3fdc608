#!/usr/bin/env node
/**
 * The `coffer` command: `coffer serve [options]`. Thin: parses, starts, prints.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig, type ConfigInput } from '../config/config.js';
import { startCoffer } from '../main.js';

const USAGE = `Usage: coffer serve [options]

Options (each also from an environment variable):
  --address ADDR        listen address            COFFER_ADDRESS   (127.0.0.1)
  --port N              listen port, 0 = any      COFFER_PORT      (9000)
  --data DIR            data directory            COFFER_DATA      (./data)
  --region NAME         S3 region                 COFFER_REGION    (us-east-1)
  --domain NAME         virtual-host domain, repeatable  COFFER_DOMAIN (localhost)
  --tls-cert FILE       serve HTTPS with this certificate  COFFER_TLS_CERT
  --tls-key FILE        ... and this private key            COFFER_TLS_KEY
  --min-part-size N     smallest non-final multipart part   COFFER_MIN_PART_SIZE (5 MiB)
  --log-level LEVEL     trace|debug|info|warn|error|silent  COFFER_LOG_LEVEL (info)
Root credentials: COFFER_ACCESS_KEY_ID and COFFER_SECRET_ACCESS_KEY; when unset, generated
at first start into DATA/credentials.json (mode 0600) and printed once.
`;

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      address: { type: 'string' },
      port: { type: 'string' },
      data: { type: 'string' },
      region: { type: 'string' },
      domain: { type: 'string', multiple: true },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'min-part-size': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const flags: Partial<ConfigInput> = {
    address: values.address,
    port: values.port,
    dataDir: values.data,
    region: values.region,
    domains: values.domain,
    tlsCert: values['tls-cert'],
    tlsKey: values['tls-key'],
    minPartSize: values['min-part-size'],
    logLevel: values['log-level'] as ConfigInput['logLevel'],
  } as Partial<ConfigInput>;
  const config = loadConfig(flags);
  const log = pino({ level: config.logLevel, base: { service: 'coffer' } });
  const coffer = await startCoffer(config, log);
  if (coffer.generatedSecret !== undefined) {
    // Printed once, at the start that created them; they live in the data dir (0600) afterwards.
    process.stdout.write(
      `\nGenerated root credentials (stored in ${config.dataDir}/credentials.json, mode 0600):\n` +
        `  AWS_ACCESS_KEY_ID=${coffer.accessKeyId}\n  AWS_SECRET_ACCESS_KEY=${coffer.generatedSecret}\n\n`,
    );
  }
  log.info({ url: coffer.url, port: coffer.port, dataDir: config.dataDir, region: config.region }, 'listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    coffer
      .shutdown()
      .then(() => {
        log.info('stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`coffer: unknown command '${command}'\n\n${USAGE}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`coffer: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
