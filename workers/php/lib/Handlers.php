<?php

namespace TaskManager\Worker;

/** Throw from a handler to fail this attempt and run the task again, after $delaySeconds if given. */
class Retry extends \RuntimeException
{
    /** @var float|null */
    public $delaySeconds;

    /**
     * new Retry(30) waits 30 s; new Retry('why') leaves the delay to the server's backoff;
     * new Retry('why', 30) gives both.
     *
     * @param string|int|float $message the reason, or the delay in seconds when a number
     */
    public function __construct($message = 'retry requested', ?float $delaySeconds = null, ?\Throwable $previous = null)
    {
        if (is_int($message) || is_float($message)) {
            if ($delaySeconds !== null) {
                throw new \InvalidArgumentException('new Retry(delay) or new Retry(message, delay), not two delays');
            }
            list($message, $delaySeconds) = ['retry requested', (float) $message];
        }
        if ($delaySeconds !== null && !($delaySeconds >= 0 && is_finite($delaySeconds))) {
            throw new \InvalidArgumentException(sprintf('Retry delay must be 0 seconds or more, got %s', var_export($delaySeconds, true)));
        }
        parent::__construct((string) $message, 0, $previous);
        $this->delaySeconds = $delaySeconds;
    }
}

/** Throw from a handler when retrying cannot help: the task fails at once, for good. */
class PermanentError extends \RuntimeException
{
}

/**
 * What a handler knows about its task, and how it keeps its lease.
 *
 * PHP has no threads, so nothing beats for a handler in the background: a handler that may run
 * longer than a third of its lease calls heartbeat() or progress() between its steps. Both are
 * cheap to call often: they send a heartbeat only when one is due (every third of the lease, or
 * a second after new progress). When the task is no longer this worker's (lease lost or task
 * cancelled), they throw that TaskManagerException so that the handler stops; the worker then
 * reports nothing.
 */
class TaskContext
{
    const PROGRESS_MIN_GAP_SECONDS = 1.0;
    const MIN_INTERVAL_SECONDS = 0.2;
    const DEFAULT_LEASE_SECONDS = 60.0;

    /** @var string */
    public $id;
    /** @var string */
    public $type;
    /** @var array */
    public $params;
    /** @var int */
    public $attempt;
    /** @var int */
    public $maxAttempts;
    /** @var string */
    public $workerId;
    /** @var float seconds between heartbeats */
    public $interval;

    /** @var callable|null function (?float $progress, ?string $message): void, throws when dropped */
    private $beat;
    /** @var float */
    private $lastBeat;
    /** @var \Throwable|null */
    private $dropped = null;
    /** @var array|null the latest progress not sent yet: [percent, message] */
    private $pending = null;

    public function __construct(array $task, string $workerId, ?callable $beat = null)
    {
        $this->id = (string) $task['id'];
        $this->type = (string) $task['type'];
        $this->params = isset($task['params']) && is_array($task['params']) ? $task['params'] : [];
        $this->attempt = isset($task['attempts']) ? max(1, (int) $task['attempts']) : 1;
        $this->maxAttempts = isset($task['max_attempts']) ? max(1, (int) $task['max_attempts']) : 1;
        $this->workerId = $workerId;
        $this->interval = max(self::MIN_INTERVAL_SECONDS, self::leaseSeconds($task) / 3);
        $this->beat = $beat;
        $this->lastBeat = microtime(true);
    }

    /** The lease the claim granted: its expiry minus its claim time, both the API's clock. */
    public static function leaseSeconds(array $task): float
    {
        if (empty($task['claimed_at']) || empty($task['lease_expires_at'])) {
            return self::DEFAULT_LEASE_SECONDS;
        }
        try {
            $claimed = new \DateTimeImmutable((string) $task['claimed_at']);
            $expires = new \DateTimeImmutable((string) $task['lease_expires_at']);
        } catch (\Exception $e) {
            return self::DEFAULT_LEASE_SECONDS;
        }
        $seconds = (float) $expires->format('U.u') - (float) $claimed->format('U.u');
        return $seconds > 0 ? $seconds : self::DEFAULT_LEASE_SECONDS;
    }

    /** Keep the lease: sends a heartbeat when one is due; throws when the task was dropped. */
    public function heartbeat(): void
    {
        $this->send(null, null, false);
    }

    /** Record progress (0-100) and a message for people; also keeps the lease. */
    public function progress(float $percent, ?string $message = null): void
    {
        $this->send(max(0.0, min(100.0, $percent)), $message, true);
    }

    /** True once the task is no longer this worker's (cancelled or lease lost). */
    public function isDropped(): bool
    {
        return $this->dropped !== null;
    }

    /** The seconds until the next heartbeat is due (for handlers that sleep between steps). */
    public function secondsUntilHeartbeat(): float
    {
        return max(0.0, $this->lastBeat + $this->interval - microtime(true));
    }

    private function send(?float $progress, ?string $message, bool $news): void
    {
        if ($this->dropped !== null) {
            throw $this->dropped;
        }
        if ($news) {
            $this->pending = [$progress, $message];
        }
        $since = microtime(true) - $this->lastBeat;
        $due = $since >= $this->interval || ($this->pending !== null && $since >= self::PROGRESS_MIN_GAP_SECONDS);
        if (!$due || $this->beat === null) {
            return;
        }
        list($progress, $message) = $this->pending === null ? [null, null] : $this->pending;
        $this->pending = null;
        $this->lastBeat = microtime(true);
        try {
            call_user_func($this->beat, $progress, $message);
        } catch (\TaskManagerException $e) {
            if ($e->isDropped() || $e->getErrorCode() === 'not_found') {
                $this->dropped = $e;
            }
            throw $e;
        }
    }
}
