<?php

namespace TaskManager\Worker;

/** Log lines on stderr: `time LEVEL message` for people, or one JSON object a line. */
class Logger
{
    const LEVELS = ['debug' => 10, 'info' => 20, 'warning' => 30, 'error' => 40];

    /** @var bool */
    private $debug;
    /** @var string */
    private $format;
    /** @var string */
    private $workerId;
    /** @var resource */
    private $stream;

    public function __construct(bool $debug = false, string $format = 'text', string $workerId = '', $stream = null)
    {
        $this->debug = $debug;
        $this->format = $format;
        $this->workerId = $workerId;
        $this->stream = $stream === null ? STDERR : $stream;
    }

    public function debug(string $message, array $extra = []): void
    {
        $this->log('debug', $message, $extra);
    }

    public function info(string $message, array $extra = []): void
    {
        $this->log('info', $message, $extra);
    }

    public function warning(string $message, array $extra = []): void
    {
        $this->log('warning', $message, $extra);
    }

    public function error(string $message, array $extra = []): void
    {
        $this->log('error', $message, $extra);
    }

    public function log(string $level, string $message, array $extra = []): void
    {
        if ($level === 'debug' && !$this->debug) {
            return;
        }
        fwrite($this->stream, $this->format($level, $message, $extra) . "\n");
    }

    public function format(string $level, string $message, array $extra = []): string
    {
        if ($this->format === 'json') {
            $now = microtime(true);
            $entry = [
                'time' => gmdate('Y-m-d\TH:i:s', (int) $now) . sprintf('.%03dZ', (int) (($now - floor($now)) * 1000)),
                'level' => $level,
                'logger' => 'taskmanager.worker',
                'message' => $message,
                'worker_id' => $this->workerId,
            ] + $extra;
            $json = json_encode($entry, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PARTIAL_OUTPUT_ON_ERROR);
            return $json === false ? $message : $json;
        }
        return sprintf('%s %-7s %s', date('Y-m-d H:i:s'), strtoupper($level), $message);
    }

    /**
     * PHP warnings and notices become log lines (with file and line) instead of raw
     * "PHP Warning:" output; a failed task still fails through its exception.
     */
    public function captureErrors(): void
    {
        set_error_handler(function (int $number, string $text, string $file = '', int $line = 0): bool {
            if (!(error_reporting() & $number)) {
                return false;
            }
            $level = in_array($number, [E_DEPRECATED, E_USER_DEPRECATED], true) ? 'debug' : 'warning';
            $this->log($level, sprintf('PHP: %s in %s:%d', $text, $file, $line));
            return true;
        });
    }
}

/** Backoff with jitter for API calls that failed for network reasons. */
class Backoff
{
    const BASE_SECONDS = 1.0;
    const CAP_SECONDS = 30.0;

    /** Seconds before retry number $attempt (0-based): doubling, capped, spread by +-50 %. */
    public static function delay(int $attempt, float $base = self::BASE_SECONDS, float $cap = self::CAP_SECONDS, ?float $random = null): float
    {
        $nominal = min($cap, $base * pow(2.0, min($attempt, 30)));
        $jitter = $random === null ? mt_rand() / mt_getrandmax() : $random;
        return $nominal * (0.5 + $jitter);
    }
}

/** The API failed too many times in a row: the worker gives up. */
class TooManyErrors extends \RuntimeException
{
}

/** Counts consecutive API failures across every call; past the limit, TooManyErrors. */
class ErrorCounter
{
    /** @var int */
    public $limit;
    /** @var int */
    public $failures = 0;

    public function __construct(int $limit)
    {
        $this->limit = $limit;
    }

    /** The API answered: the run of failures is over. */
    public function success(): void
    {
        $this->failures = 0;
    }

    /** The API did not answer; throws TooManyErrors once the limit is reached. */
    public function failure(string $error): void
    {
        $this->failures++;
        if ($this->failures >= $this->limit) {
            throw new TooManyErrors(sprintf('giving up after %d consecutive API errors; last: %s', $this->failures, $error));
        }
    }
}

/** What a worker did: outcomes by name and the time spent on tasks, for the final log line. */
class Stats
{
    /** @var float */
    public $startedAt;
    /** @var array<string, int> */
    public $outcomes = [];
    /** @var float */
    public $busySeconds = 0.0;
    /** @var int */
    public $apiErrors = 0;

    public function __construct()
    {
        $this->startedAt = microtime(true);
    }

    public function record(string $outcome, float $seconds): void
    {
        $this->outcomes[$outcome] = (isset($this->outcomes[$outcome]) ? $this->outcomes[$outcome] : 0) + 1;
        $this->busySeconds += $seconds;
    }

    public function processed(): int
    {
        return (int) array_sum($this->outcomes);
    }

    public function summary(): array
    {
        $outcomes = $this->outcomes;
        ksort($outcomes);
        $figures = ['processed' => $this->processed()] + $outcomes + [
            'api_errors' => $this->apiErrors,
            'uptime_seconds' => round(microtime(true) - $this->startedAt, 3),
        ];
        if ($this->processed() > 0) {
            $figures['avg_task_seconds'] = round($this->busySeconds / $this->processed(), 3);
        }
        return $figures;
    }

    public function describe(): string
    {
        $parts = [];
        foreach ($this->summary() as $name => $value) {
            $parts[] = $name . '=' . $value;
        }
        return implode(' ', $parts);
    }
}
