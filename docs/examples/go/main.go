// Read entrasync's public change events with a durable JetStream consumer (Go, nats.go).
//
//	go run . -durable my-service                      # every event kept, then live
//	go run . -durable audit-2025 -since 2025-06-01T00:00:00Z
//
// Each event is decoded as a CloudEvent, printed as one line of JSON and acknowledged after it
// was handled, so the consumer resumes after the last event it acknowledged when it starts
// again. Delivery is at least once: a crash between handling and acknowledging delivers that
// event again, with the same id, so make the handling idempotent.
// See docs/consuming-events.md.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Event is the CloudEvents 1.0 envelope of every public event. Data depends on Type: see
// docs/asyncapi.json (ObjectCreated, ObjectUpdated, ObjectDeleted, MembersChanged, SyncRecorded).
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	EntraTenantID   string          `json:"entratenantid,omitempty"` // the directory's GUID
	Data            json.RawMessage `json:"data"`
}

// streamAndSubject names an installation with ENTRASYNC_PREFIX=prefix (none in most).
func streamAndSubject(prefix, subject string) (string, string) {
	if prefix == "" {
		return "ENTRASYNC_EVENTS", subject
	}
	stream := strings.ReplaceAll(strings.ToUpper(prefix), ".", "_") + "_ENTRASYNC_EVENTS"
	return stream, prefix + "." + subject
}

// bindDurable creates the durable on first use. Its settings apply then only: an existing
// durable keeps its position (and its start time), whatever -since says now.
func bindDurable(js nats.JetStreamContext, stream, subject, durable, since string) (*nats.Subscription, error) {
	if _, err := js.ConsumerInfo(stream, durable); errors.Is(err, nats.ErrConsumerNotFound) {
		config := &nats.ConsumerConfig{
			Durable:       durable,
			AckPolicy:     nats.AckExplicitPolicy,
			AckWait:       60 * time.Second,
			MaxAckPending: 1000,
			FilterSubject: subject,
			DeliverPolicy: nats.DeliverAllPolicy,
		}
		if since != "" {
			start, err := time.Parse(time.RFC3339Nano, since)
			if err != nil {
				return nil, fmt.Errorf("-since: %w", err)
			}
			config.DeliverPolicy, config.OptStartTime = nats.DeliverByStartTimePolicy, &start
		}
		if _, err := js.AddConsumer(stream, config); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return js.PullSubscribe(subject, durable, nats.Bind(stream, durable))
}

// handle is where your code goes; this example prints the event as one line of JSON.
func handle(event Event) error {
	line, err := json.Marshal(event)
	if err == nil {
		fmt.Println(string(line))
	}
	return err
}

func main() {
	server := flag.String("server", envOr("NATS_URL", nats.DefaultURL), "NATS server URL")
	durable := flag.String("durable", "", "consumer name; pick one per application")
	since := flag.String("since", "", "when creating the durable: start at this time (RFC 3339)")
	prefix := flag.String("prefix", "", "the installation's ENTRASYNC_PREFIX")
	subject := flag.String("subject", "entrasync.directory.>", "e.g. entrasync.sync.recorded.*")
	idleExit := flag.Float64("idle-exit", 0, "stop after this many seconds without events")
	flag.Parse()
	if *durable == "" {
		log.Fatal("-durable is required")
	}
	nc, err := nats.Connect(*server)
	if err != nil {
		log.Fatal(err)
	}
	// Close, not Unsubscribe: the durable (and its position) must outlive this process.
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		log.Fatal(err)
	}
	stream, filter := streamAndSubject(*prefix, *subject)
	sub, err := bindDurable(js, stream, filter, *durable, *since)
	if err != nil {
		log.Fatal(err)
	}
	if err := consume(sub, time.Duration(*idleExit*float64(time.Second))); err != nil {
		log.Fatal(err)
	}
}

func consume(sub *nats.Subscription, idleExit time.Duration) error {
	wait := idleExit
	if wait == 0 {
		wait = 30 * time.Second
	}
	for {
		messages, err := sub.Fetch(100, nats.MaxWait(wait))
		if errors.Is(err, nats.ErrTimeout) {
			if idleExit > 0 {
				return nil
			}
			continue
		}
		if err != nil {
			return err
		}
		for _, msg := range messages {
			var event Event
			if err := json.Unmarshal(msg.Data, &event); err != nil {
				return fmt.Errorf("event %s: %w", msg.Subject, err)
			}
			if err := handle(event); err != nil {
				return err
			}
			// Wait for the server to confirm: the next start resumes after this event.
			if err := msg.AckSync(); err != nil {
				return err
			}
		}
	}
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
