/**
 * The conversation an AG-UI client would have built from a stream of events, kept so that a
 * client joining late gets it in one MESSAGES_SNAPSHOT. It applies events the way
 * `@ag-ui/client` does (a tool call without a parent message gets an assistant message of its
 * own, whose id is the tool call's).
 */
import { EventType, type Message } from '@ag-ui/core';
import type { IdentifiedEvent } from './mapping.js';

type Obj = Record<string, unknown>;
type Mutable = Obj & { id: string; role: string; content?: unknown; toolCalls?: ToolCall[] };
interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export class MessageLog {
  private readonly messages: Mutable[] = [];
  private readonly byId = new Map<string, Mutable>();
  private readonly callOwner = new Map<string, ToolCall>();

  apply({ event: e }: IdentifiedEvent): void {
    const sub = typeof e.subagentRunId === 'string' ? { subagentRunId: e.subagentRunId } : {};
    switch (e.type) {
      case EventType.RUN_STARTED: {
        const input = e.input as { messages?: Mutable[] } | undefined;
        for (const m of input?.messages ?? []) if (!this.byId.has(m.id)) this.add({ ...m });
        return;
      }
      case EventType.TEXT_MESSAGE_START:
        return this.add({ id: e.messageId as string, role: 'assistant', content: '', ...sub });
      case EventType.REASONING_MESSAGE_START:
        return this.add({ id: e.messageId as string, role: 'reasoning', content: '', ...sub });
      case EventType.TEXT_MESSAGE_CONTENT:
      case EventType.REASONING_MESSAGE_CONTENT: {
        const m = this.byId.get(e.messageId as string);
        if (m) m.content = `${typeof m.content === 'string' ? m.content : ''}${e.delta as string}`;
        return;
      }
      case EventType.TOOL_CALL_START: {
        const id = e.toolCallId as string;
        const call: ToolCall = {
          id,
          type: 'function',
          function: { name: e.toolCallName as string, arguments: '' },
        };
        this.callOwner.set(id, call);
        this.add({ id, role: 'assistant', toolCalls: [call], ...sub });
        return;
      }
      case EventType.TOOL_CALL_ARGS: {
        const call = this.callOwner.get(e.toolCallId as string);
        if (call) call.function.arguments += e.delta as string;
        return;
      }
      case EventType.TOOL_CALL_RESULT:
        return this.add({
          id: e.messageId as string,
          role: 'tool',
          toolCallId: e.toolCallId,
          content: e.content,
          ...sub,
        });
      default:
    }
  }

  /** A copy of the conversation so far. */
  snapshot(): Message[] {
    return structuredClone(this.messages) as unknown as Message[];
  }

  private add(m: Mutable): void {
    if (this.byId.has(m.id)) return;
    this.messages.push(m);
    this.byId.set(m.id, m);
  }
}
