package jobtailclient // import "github.com/jobtrace/jobtrace/internal/jobtailclient"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// ConnState is the state of a followed log stream's connection.
type ConnState int

const (
	StateConnecting ConnState = iota
	StateConnected
	StateReconnecting
	StateClosed
)

func (s ConnState) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	}
	return "unknown"
}

// Event is one thing that happened on a followed stream. Exactly one of Entry, Control or
// StateChanged is set.
type Event struct {
	Entry   *LogEntry
	Control *Control

	StateChanged bool
	State        ConnState
	// Attempt counts consecutive failed connection attempts (StateReconnecting).
	Attempt int
	// Err is why the connection was lost (StateReconnecting) or why following stopped for
	// good (StateClosed; nil when the server ended a non-follow stream normally).
	Err error
	// Stream is set when a stream was (re)created.
	Stream *StreamInfo
}

// FollowOptions tune Follow.
type FollowOptions struct {
	// Stream is a stream already created by CreateStream (so its validation errors could be
	// shown before following). When nil, Follow creates one from the request.
	Stream *StreamInfo
	// MinBackoff and MaxBackoff bound the reconnection delay (defaults 200 ms and 10 s).
	MinBackoff, MaxBackoff time.Duration
	// Buffer is the capacity of the returned channel (default 256).
	Buffer int
}

// closeCodePolicy is what the server sends when the caller lost the right to the stream.
const closeCodePolicy = websocket.StatusPolicyViolation

// Follow attaches to a log stream over WebSocket and keeps it attached until ctx ends:
// after a lost connection it reconnects with exponential backoff and jitter, re-attaching
// to the same stream (sending Last-Event-ID with the last seq seen) or, when the server no
// longer knows it, creating a new one with the same filters starting at the last entry's
// timestamp. Entries whose seq was already delivered are dropped, so the caller sees every
// entry at most once across reconnections. A re-created stream whose entries carry lower
// seqs but newer timestamps is taken to come from a restarted server, and its numbering is
// followed from there.
//
// The channel is closed after a final StateClosed event. Errors the server will repeat
// (400, 401, 403) end following instead of retrying forever.
func (c *Client) Follow(ctx context.Context, req StreamRequest, opts FollowOptions) <-chan Event {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 200 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 256
	}
	f := &follower{c: c, req: req, opts: opts, out: make(chan Event, opts.Buffer)}
	go f.run(ctx)
	return f.out
}

type follower struct {
	c    *Client
	req  StreamRequest
	opts FollowOptions
	out  chan Event

	stream        *StreamInfo
	connectedOnce bool // since the last reconnect attempt, so backoff restarts small
	// recreated is set for a stream created after entries were already delivered: its
	// since-replay may repeat entries at the last instant delivered (seq at most upToSeq,
	// timestamp at most upToTS), or the server may be a new process numbering from 1 again.
	recreated bool
	upToSeq   uint64
	upToTS    time.Time

	haveSeq bool
	maxSeq  uint64
	lastTS  time.Time
	// lastSeq is the seq of the last entry received from stream seqStream: the resume point.
	// Not the highest seq: a replay comes in timestamp order and a late line keeps its old
	// seq, and the server places the last line received, whatever its seq.
	lastSeq   uint64
	seqStream string
	// seen holds the seqs delivered from the current stream (the newest maxSeen), so that a
	// server that repeats entries on re-attach (one ignoring Last-Event-ID) is caught without
	// assuming seqs arrive in order, which a sorted replay's do not.
	seen      map[uint64]struct{}
	seenOrder []uint64 // circular once full, oldest at seenNext
	seenNext  int
}

const maxSeen = 1 << 16

func (f *follower) markSeen(seq uint64) {
	if f.seen == nil {
		f.seen = make(map[uint64]struct{}, 1024)
	}
	if len(f.seenOrder) < maxSeen {
		f.seenOrder = append(f.seenOrder, seq)
	} else {
		delete(f.seen, f.seenOrder[f.seenNext])
		f.seenOrder[f.seenNext] = seq
		f.seenNext = (f.seenNext + 1) % maxSeen
	}
	f.seen[seq] = struct{}{}
}

func (f *follower) emit(ctx context.Context, ev Event) bool {
	select {
	case f.out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

func (f *follower) run(ctx context.Context) {
	defer close(f.out)
	var final error
	defer func() {
		// Free the server-side stream; the caller's context is gone, so use a short one.
		if f.stream != nil {
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = f.c.DeleteStream(dctx, f.stream.StreamID)
			cancel()
		}
		// Non-blocking: the reader may have stopped listening along with ctx.
		select {
		case f.out <- Event{StateChanged: true, State: StateClosed, Err: final}:
		default:
		}
	}()

	f.stream = f.opts.Stream
	if f.stream != nil {
		if !f.emit(ctx, Event{Stream: f.stream, StateChanged: true, State: StateConnecting}) {
			return
		}
	} else if !f.emit(ctx, Event{StateChanged: true, State: StateConnecting}) {
		return
	}

	attempt := 0
	for ctx.Err() == nil {
		done, err := f.once(ctx)
		if done {
			final = err
			return
		}
		if ctx.Err() != nil {
			return
		}
		if f.connectedOnce {
			attempt = 0
			f.connectedOnce = false
		}
		attempt++
		if !f.emit(ctx, Event{StateChanged: true, State: StateReconnecting, Attempt: attempt, Err: err}) {
			return
		}
		if !sleep(ctx, backoff(f.opts.MinBackoff, f.opts.MaxBackoff, attempt)) {
			return
		}
	}
}

// once creates the stream if needed, attaches and reads until the connection ends. done
// means following is over (err says why, nil for a normal end).
func (f *follower) once(ctx context.Context) (done bool, err error) {
	if f.stream == nil {
		req := f.req
		if f.haveSeq {
			// Resume where we were: entries at or after the last timestamp; duplicates of
			// that instant are removed by seq below.
			since := f.lastTS
			req.Filters.Since = &since
			if req.Options.TailLines < 10000 {
				req.Options.TailLines = 10000
			}
		}
		info, cerr := f.c.CreateStream(ctx, req)
		if cerr != nil {
			var ae *APIError
			if errors.As(cerr, &ae) && !ae.Retryable() {
				return true, cerr
			}
			return false, cerr
		}
		f.stream = info
		f.recreated, f.upToSeq, f.upToTS = f.haveSeq, f.maxSeq, f.lastTS
		// Another stream's numbering (maybe another server process's): forget its seqs.
		clear(f.seen)
		f.seenOrder, f.seenNext = f.seenOrder[:0], 0
		if !f.emit(ctx, Event{Stream: info}) {
			return true, nil
		}
	}

	h := http.Header{}
	f.c.authHeader(h)
	// Last-Event-ID only means something to the stream that numbered those entries; a
	// re-created stream (possibly on a restarted server that numbers from 1 again) would
	// withhold everything up to it, so it replays by time instead (since, above).
	if f.seqStream != "" && f.seqStream == f.stream.StreamID {
		h.Set("Last-Event-ID", strconv.FormatUint(f.lastSeq, 10))
	}
	// batch=true: the server sends a backlog as one JSON array per message.
	conn, resp, derr := websocket.Dial(ctx, f.c.wsURL(f.stream.StreamID)+"?batch=true", &websocket.DialOptions{
		HTTPClient: f.c.http,
		HTTPHeader: h,
	})
	if derr != nil {
		if resp != nil {
			switch {
			case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
				// Expired, deleted, or the server restarted: make a new one.
				f.stream = nil
			case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
				return true, &APIError{StatusCode: resp.StatusCode, Code: "unauthorized", Message: "attach to stream refused: " + derr.Error()}
			}
		}
		return false, derr
	}
	defer conn.CloseNow()
	conn.SetReadLimit(16 << 20)
	f.connectedOnce = true
	if !f.emit(ctx, Event{StateChanged: true, State: StateConnected}) {
		return true, nil
	}

	for {
		_, data, rerr := conn.Read(ctx)
		if rerr != nil {
			if ctx.Err() != nil {
				return true, nil
			}
			switch websocket.CloseStatus(rerr) {
			case websocket.StatusNormalClosure:
				if !f.req.Options.Follow {
					return true, nil
				}
				// A followed stream closed normally was deleted or expired server-side.
				f.stream = nil
				return false, fmt.Errorf("stream closed by server: %w", rerr)
			case closeCodePolicy:
				return true, fmt.Errorf("stream closed by server: %w", rerr)
			}
			return false, rerr
		}
		msgs := [][]byte{data}
		if len(data) > 0 && data[0] == '[' {
			var arr []json.RawMessage
			if err := json.Unmarshal(data, &arr); err != nil {
				if !f.emit(ctx, Event{Control: &Control{Type: "warning", Message: "decode stream message: " + err.Error()}}) {
					return true, nil
				}
				continue
			}
			msgs = msgs[:0]
			for _, m := range arr {
				msgs = append(msgs, m)
			}
		}
		for _, m := range msgs {
			if !f.deliver(ctx, m) {
				return true, nil
			}
		}
	}
}

// deliver decodes one stream message and emits it unless it repeats an entry already
// delivered. It reports false when the caller stopped listening.
func (f *follower) deliver(ctx context.Context, data []byte) bool {
	entry, ctrl, perr := decodeMessage(data)
	if perr != nil {
		// One bad message is reported, not fatal.
		return f.emit(ctx, Event{Control: &Control{Type: "warning", Message: perr.Error()}})
	}
	if ctrl != nil {
		return f.emit(ctx, Event{Control: ctrl})
	}
	// A re-created stream's replay (since the last timestamp delivered) repeats the entries
	// of that last instant. An old seq with a newer timestamp is no repeat: the server
	// restarted and numbers from 1 again.
	if f.recreated && !entry.Late && entry.Seq <= f.upToSeq && !entry.Timestamp.After(f.upToTS) {
		return true
	}
	if !entry.Late {
		if _, dup := f.seen[entry.Seq]; dup {
			return true
		}
		f.markSeen(entry.Seq)
	}
	f.lastSeq, f.seqStream = entry.Seq, f.stream.StreamID
	if !entry.Late {
		f.haveSeq, f.maxSeq = true, max(f.maxSeq, entry.Seq)
		if entry.Timestamp.After(f.lastTS) {
			f.lastTS = entry.Timestamp
		}
	}
	return f.emit(ctx, Event{Entry: entry})
}

func backoff(minD, maxD time.Duration, attempt int) time.Duration {
	d := minD
	for i := 1; i < attempt && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	// Full jitter on the upper half so many clients do not reconnect in lockstep.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
