// Test-only workload for jobtrace: real BullMQ jobs, traced by bullmq-otel through the OTel Node
// SDK, spans exported over OTLP/HTTP to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT when set.
//
//   node workload.js run N      N jobs each: succeeding, once-retried (no backoff: BullMQ's
//                               retryJob path), always-failing (fixed backoff: moveToDelayed)
//   node workload.js stuck      one job whose worker process dies (SIGKILL) mid-attempt
//   node workload.js recover    a worker whose stalled checker declares that job stalled
//   node workload.js view       print the library's view of every job (one JSON line each)
//
// Env: REDIS_PORT (required), EVENTS_MAXLEN (the queues' events stream bound), QUEUES (comma list, default "mails,reports"), BULL_PREFIX
// (default "bull"). Modules come from NODE_PATH (the git-ignored npm cache .ci/run fills).
'use strict';

const { NodeSDK } = require('@opentelemetry/sdk-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { BullMQOtel } = require('bullmq-otel');

const endpoint = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
// Without an endpoint spans are still recorded (so bullmq-otel writes its carrier) but dropped.
const dropAll = { export: (spans, done) => done({ code: 0 }), shutdown: async () => {} };
const sdk = new NodeSDK({
  serviceName: process.env.OTEL_SERVICE_NAME || 'bullmq-workload',
  traceExporter: endpoint ? new OTLPTraceExporter({ url: endpoint }) : dropAll,
  // No auto-instrumentation: the spans are bullmq-otel's alone.
  instrumentations: [],
});
sdk.start();

const { Queue, Worker, Job } = require('bullmq');

const connection = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT) };
const prefix = process.env.BULL_PREFIX || 'bull';
const queues = (process.env.QUEUES || 'mails,reports').split(',');
const telemetry = new BullMQOtel('jobtrace-workload');

const ERR_FLAKY = 'flaky: first attempt fails';
const ERR_BAD = 'bad: always fails';

async function processor(job) {
  switch (job.name) {
    case 'flaky':
      if (job.attemptsMade === 0) throw new Error(ERR_FLAKY);
      return 'ok after retry';
    case 'bad':
      throw new Error(ERR_BAD);
    case 'stuck':
      if (process.argv[2] === 'stuck') {
        console.log(JSON.stringify({ started: `${job.queueName}:${job.id}` }));
        // Die with the lock held, as a crashed worker does.
        setTimeout(() => process.kill(process.pid, 'SIGKILL'), 50);
        await new Promise(() => {});
      }
      return 'recovered';
    default:
      return 'ok';
  }
}

function worker(q, opts = {}) {
  return new Worker(q, processor, { connection, prefix, telemetry, concurrency: 4, ...opts });
}

// traceIdOf reads the job's trace id from the carrier bullmq-otel stored in opts.tm.
function traceIdOf(job) {
  const tm = job.opts && job.opts.telemetry && job.opts.telemetry.metadata;
  if (!tm) return '';
  try {
    const tp = JSON.parse(tm).traceparent || '';
    return tp.split('-')[1] || '';
  } catch (e) {
    return '';
  }
}

async function view() {
  for (const q of queues) {
    const queue = new Queue(q, { connection, prefix });
    const jobs = await queue.getJobs(['completed', 'failed', 'delayed', 'wait', 'active', 'prioritized']);
    for (const job of jobs) {
      console.log(JSON.stringify({
        view: true,
        id: `${q}:${job.id}`,
        queue: q,
        name: job.name,
        state: await job.getState(),
        attemptsMade: job.attemptsMade,
        attemptsStarted: job.attemptsStarted,
        stalledCounter: job.stalledCounter,
        failedReason: job.failedReason || '',
        stacktrace: job.stacktrace || [],
        traceId: traceIdOf(job),
      }));
    }
    await queue.close();
  }
}

async function waitFinished(qs, total) {
  for (;;) {
    let done = 0;
    for (const queue of qs) {
      const c = await queue.getJobCounts('completed', 'failed');
      done += c.completed + c.failed;
    }
    if (done >= total) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function run(n) {
  // EVENTS_MAXLEN: BullMQ's own bound on the events stream (default 10,000), to test trimming.
  const streams = process.env.EVENTS_MAXLEN ? { events: { maxLen: Number(process.env.EVENTS_MAXLEN) } } : undefined;
  const qs = queues.map((q) => new Queue(q, { connection, prefix, telemetry, streams }));
  const workers = queues.map((q) => worker(q));
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (const queue of qs) {
      await queue.add('ok', { i }, { attempts: 3 });
      await queue.add('flaky', { i }, { attempts: 3 });
      await queue.add('bad', { i }, { attempts: 2, backoff: { type: 'fixed', delay: 50 } });
      total += 3;
    }
  }
  await waitFinished(qs, total);
  await Promise.all(workers.map((w) => w.close()));
  await Promise.all(qs.map((q) => q.close()));
}

async function stuck() {
  const queue = new Queue(queues[0], { connection, prefix, telemetry });
  await queue.add('stuck', {}, { attempts: 3 });
  // Its own stalled checker would hold stalled-check for the default 30 s after it dies.
  worker(queues[0], { lockDuration: 1000, stalledInterval: 300 });
  await new Promise(() => {}); // the processor kills this process
}

async function recover() {
  // BullMQ's stalled checker: a job whose lock expired while active is moved back to wait
  // (event "stalled") and run again by this worker.
  const queue = new Queue(queues[0], { connection, prefix });
  const w = worker(queues[0], { lockDuration: 1000, stalledInterval: 300 });
  for (;;) {
    const c = await queue.getJobCounts('completed', 'failed');
    if (c.completed + c.failed > 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await w.close();
  await queue.close();
}

(async () => {
  const cmd = process.argv[2];
  if (cmd === 'run') await run(Number(process.argv[3] || 2));
  else if (cmd === 'stuck') await stuck();
  else if (cmd === 'recover') await recover();
  else if (cmd === 'view') await view();
  else throw new Error(`unknown command ${cmd}`);
  await sdk.shutdown(); // flushes the batched spans
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
