/**
 * Messages between sessions, through the real control plane, runner and CLI. With one runner
 * slot, interactive session C creates D (which therefore waits as Pending), and C's sub-agent
 * `messenger` (defined by the session spec's `agents`, i.e. AGENTS_JSON) finds D with
 * `list_sessions` and sends it a message. Then the control plane is killed and restarted, C is
 * ended, D starts and gets the message as its second turn, exactly once, with the sender in its
 * history. Along the way: every frame of the sub-agent carries the Agent call's id and its name.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Scenario } from '../../src/testing/scripted-model/index.js';
import {
  createSession,
  events,
  getSession,
  history,
  messageStates,
  results,
  resultFor,
  resultText,
  setup,
  toolCalls,
  waitForEntry,
  waitForPhase,
  type Entry,
  type Setup,
} from './helpers.js';

const MESSENGER_PROMPT = 'You are MESSENGER-AGENT-PROMPT: you deliver messages.';
const PING = 'PING from the messenger';

const SCENARIOS: Scenario[] = [
  {
    name: 'agents-sender',
    turns: [
      {
        steps: [
          {
            tools: [
              {
                name: 'mcp__sessions__create_session',
                input: {
                  prompt: '[[scenario:agents-receiver]] Get ready.',
                  interactive: true,
                  displayName: 'receiver',
                },
              },
            ],
          },
          {
            tools: [
              {
                name: 'Agent',
                input: {
                  description: 'Greet the receiver',
                  prompt: 'MESSENGERTASK greet the pending receiver',
                  subagent_type: 'messenger',
                  run_in_background: false,
                },
              },
            ],
          },
          { text: 'Delegated the greeting.' },
        ],
      },
      {
        match: 'MESSENGERTASK',
        steps: [
          { tools: [{ name: 'mcp__sessions__list_sessions', input: { phase: 'Pending' } }] },
          {
            tools: [
              {
                name: 'mcp__sessions__send_message',
                input: { name: '{{lastToolResult.sessions.0.name}}', content: PING },
              },
            ],
          },
          { text: 'sent: {{lastToolResult}}' },
        ],
      },
    ],
  },
  {
    name: 'agents-receiver',
    turns: [
      { match: 'Get ready', steps: [{ text: 'Ready.' }] },
      { match: 'PING', steps: [{ text: 'Got: {{userText}}' }] },
    ],
  },
];

let s: Setup;

before(async () => {
  s = await setup({ scenarios: SCENARIOS, maxConcurrent: 1 });
});
after(async () => {
  await s?.close();
});

const userMessages = (h: Entry[]) => h.filter((e) => e.type === 'user_message');

describe('messages between sessions', () => {
  it('a message to a session that has not started is kept across a restart of serve and run once as its next turn, with its sender', async () => {
    const c = await createSession(s.serve, {
      prompt: '[[scenario:agents-sender]] Start a receiver and greet it.',
      interactive: true,
      agents: [
        {
          name: 'messenger',
          description: 'Delivers messages to other sessions',
          prompt: MESSENGER_PROMPT,
        },
      ],
    });
    const cName = c.metadata.name;
    // An interactive session with a prompt waits only once its first turn is over.
    const cHistory = await waitForEntry(
      s,
      cName,
      (e) => e.type === 'agent.waiting',
      'C to finish its first turn',
      120_000,
    );
    assert.deepEqual(
      results(cHistory).map((r) => r.result),
      ['Delegated the greeting.'],
    );

    // C created D, which waits for the only slot.
    const create = toolCalls(cHistory).find((t) => t.tool === 'mcp__sessions__create_session');
    assert.ok(create, 'C called create_session');
    const dName = (JSON.parse(resultText(resultFor(cHistory, create.id))) as { name: string }).name;
    assert.equal((await getSession(s.serve, dName)).status.phase, 'Pending');
    assert.deepEqual(
      events(cHistory, 'session.child_created').map((e) => e.payload.data?.child),
      [dName],
    );

    // The messenger sub-agent (from the spec's agents) did the sending; its frames are nested.
    const agentCall = toolCalls(cHistory).find((t) => t.tool === 'Agent' || t.tool === 'Task');
    assert.ok(agentCall, 'C called the Agent tool');
    const nested = toolCalls(cHistory).filter((t) => t.parent_tool_use_id === agentCall.id);
    assert.deepEqual(
      nested.map((t) => [t.tool, t.agent]),
      [
        ['mcp__sessions__list_sessions', 'messenger'],
        ['mcp__sessions__send_message', 'messenger'],
      ],
    );
    assert.equal(nested[1]!.input.name, dName, 'list_sessions found D');
    const sent = resultFor(cHistory, nested[1]!.id);
    assert.equal(sent.tool_result.is_error, false, resultText(sent));
    assert.equal(sent.agent, 'messenger');
    assert.deepEqual(JSON.parse(resultText(sent)), {
      sent: true,
      to: dName,
      id: (JSON.parse(resultText(sent)) as { id: number }).id,
      queued: true,
      note: 'it is delivered once that session runs',
    });
    assert.ok(
      s.model.requests.some((r) => JSON.stringify(r.body).includes('MESSENGER-AGENT-PROMPT')),
      'the sub-agent ran with its spec prompt',
    );

    // Both histories hold the message with its sender; D's is persisted but not yet delivered.
    const from = { session: cName, agent: 'messenger' };
    const sentEvents = events(cHistory, 'session.message_sent');
    assert.equal(sentEvents.length, 1);
    assert.deepEqual(sentEvents[0]!.payload.data, {
      to: dName,
      content: PING,
      from,
      id: sentEvents[0]!.payload.data?.id,
    });
    const dQueued = userMessages(await history(s.serve, dName));
    assert.equal(dQueued.length, 1);
    assert.deepEqual(dQueued[0]!.payload, { content: PING, from, via: 'session' });
    assert.deepEqual(messageStates(s, dName), ['queued']);

    // The control plane dies and comes back; C's runner goes on and reconnects.
    await s.killServe();
    await s.restartServe();
    assert.equal((await getSession(s.serve, dName)).status.phase, 'Pending');
    const end = await s.serve.api(
      'POST',
      `/projects/${c.metadata.namespace}/sessions/${cName}/messages`,
      { type: 'end_session' },
    );
    assert.equal(end.status, 202, end.text);
    const cFinal = await waitForPhase(s.serve, cName, ['Completed', 'Failed', 'Stopped'], 60_000);
    assert.equal(cFinal.status.phase, 'Completed', cFinal.status.message);

    // D starts (the slot is free), runs its prompt, then the message as its next turn.
    const dHistory = await waitForEntry(
      s,
      dName,
      (e) =>
        e.type === 'agent.message' &&
        e.payload.type === 'result.message' &&
        JSON.stringify(e.payload).includes('Got:'),
      'D to answer the message',
      120_000,
    );
    assert.deepEqual(
      results(dHistory).map((r) => r.result),
      ['Ready.', `Got: Message from session ${cName} (its agent messenger):\n\n${PING}`],
    );
    assert.equal(userMessages(dHistory).length, 1, 'the message is in D’s history once');
    const endD = await s.serve.api(
      'POST',
      `/projects/${c.metadata.namespace}/sessions/${dName}/messages`,
      { type: 'end_session' },
    );
    assert.equal(endD.status, 202, endD.text);
    const dFinal = await waitForPhase(s.serve, dName, ['Completed', 'Failed', 'Stopped'], 60_000);
    assert.equal(dFinal.status.phase, 'Completed', dFinal.status.message);
    // Run once: still exactly two turns, and the runner confirmed each command it took.
    assert.equal(results(await history(s.serve, dName)).length, 2);
    assert.deepEqual(messageStates(s, dName), ['delivered', 'delivered']);
  });
});
