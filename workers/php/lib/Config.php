<?php

namespace TaskManager\Worker;

/** Invalid configuration: the message says which option, from where, and why. */
class ConfigError extends \RuntimeException
{
}

/**
 * The worker's settings: flags over environment over a KEY=VALUE file over defaults.
 *
 * The same options, environment variables and file keys as the Python worker, so that one
 * worker.conf serves both. A PHP process runs one task at a time whatever CONCURRENCY says;
 * the worker warns at start when it asks for more.
 */
class Config
{
    const DEFAULT_API_URL = 'http://localhost:8000/api';
    const MAX_TASK_TYPES = 100;
    const MAX_POLL_INTERVAL = 3600.0;
    const TYPE_PATTERN = '/^[A-Za-z0-9_.:-]{1,200}$/';

    /** @var string */
    public $apiUrl = self::DEFAULT_API_URL;
    /** @var string */
    public $workerId;
    /** @var string[]|null null: every type with a handler */
    public $taskTypes = null;
    /** @var float */
    public $pollInterval = 10.0;
    /** @var int */
    public $maxRuns = 0;
    /** @var int */
    public $concurrency = 1;
    /** @var string|null */
    public $apiKey = null;
    /** @var bool */
    public $debug = false;
    /** @var int */
    public $maxConsecutiveErrors = 5;
    /** @var string */
    public $logFormat = 'text';
    /** @var string|null null: the system's trusted certificates */
    public $caBundle = null;

    public function __construct()
    {
        $this->workerId = self::defaultWorkerId();
    }

    /** Host name, process id and a random suffix: unique per process. */
    public static function defaultWorkerId(): string
    {
        $host = gethostname();
        return sprintf('%s-%d-%s', $host === false ? 'php' : $host, getmypid(), bin2hex(random_bytes(3)));
    }

    /**
     * Each option: property, flag, environment variable (also the file key), default as shown
     * in --help, help text, parser name.
     */
    public static function options(): array
    {
        return [
            ['apiUrl', '--api-url', 'TASKMANAGER_API_URL', self::DEFAULT_API_URL, 'API base URL.', 'parseUrl'],
            ['workerId', '--worker-id', 'WORKER_ID', 'host name, process id and a random suffix', 'Name of this worker.', 'parseWorkerId'],
            ['taskTypes', '--task-types', 'TASK_TYPES', 'every type with a handler', 'Comma-separated task types to claim.', 'parseTaskTypes'],
            ['pollInterval', '--poll-interval', 'POLL_INTERVAL', '10', 'Seconds a claim waits (long poll, at most 30 per request) when no task is available.', 'parsePollInterval'],
            ['maxRuns', '--max-runs', 'MAX_RUNS', '0', 'Stop after this many tasks; 0 means never.', 'parseMaxRuns'],
            ['concurrency', '--concurrency', 'CONCURRENCY', '1', 'Tasks the Python worker runs at once; a PHP process runs one and warns above 1 (start more processes).', 'parseConcurrency'],
            ['apiKey', '--api-key', 'TASKMANAGER_API_KEY', 'none', 'API key sent as a bearer token.', 'parseText'],
            ['debug', '--debug', 'DEBUG', 'false', 'Log debug details, including every HTTP call.', 'parseBoolean'],
            ['maxConsecutiveErrors', '--max-consecutive-errors', 'MAX_CONSECUTIVE_ERRORS', '5', 'Exit with status 1 after this many API errors in a row.', 'parseMaxErrors'],
            ['logFormat', '--log-format', 'LOG_FORMAT', 'text', 'Log lines as text or json.', 'parseLogFormat'],
            ['caBundle', '--ca-bundle', 'TASKMANAGER_CA_BUNDLE', "the system's trusted certificates", 'PEM file of certificate authorities to trust for an https:// API URL.', 'parseCaBundle'],
        ];
    }

    /**
     * Split the command line into flags and the --config file.
     *
     * Accepts `--name=value` and `--name value`; `--debug` alone means true.
     *
     * @return array{flags: array<string, string>, config_file: ?string, help: bool}
     */
    public static function parseArgs(array $args): array
    {
        $byFlag = [];
        foreach (self::options() as $option) {
            $byFlag[$option[1]] = $option[0];
        }
        $flags = [];
        $configFile = null;
        $help = false;
        for ($i = 0; $i < count($args); $i++) {
            $arg = (string) $args[$i];
            if ($arg === '--help' || $arg === '-h') {
                $help = true;
                continue;
            }
            if (substr($arg, 0, 2) !== '--') {
                throw new ConfigError(sprintf('unexpected argument %s (options look like --name=value; see --help)', var_export($arg, true)));
            }
            $parts = explode('=', $arg, 2);
            $name = $parts[0];
            $value = isset($parts[1]) ? $parts[1] : null;
            if ($name !== '--config' && !isset($byFlag[$name])) {
                throw new ConfigError(sprintf('unknown option %s (see --help)', $name));
            }
            if ($value === null && $name === '--debug') {
                $value = 'true';
            } elseif ($value === null) {
                if (!isset($args[$i + 1]) || substr((string) $args[$i + 1], 0, 2) === '--') {
                    throw new ConfigError(sprintf('%s needs a value, e.g. %s=VALUE', $name, $name));
                }
                $value = (string) $args[++$i];
            }
            if ($name === '--config') {
                $configFile = $value;
            } else {
                $flags[$byFlag[$name]] = $value;
            }
        }
        return ['flags' => $flags, 'config_file' => $configFile, 'help' => $help];
    }

    /**
     * Merge the sources, each option from the first that sets it; ConfigError naming every
     * invalid value.
     *
     * @param array<string, string> $flags by property name
     * @param array<string, string> $environ like getenv()
     */
    public static function load(array $flags, array $environ, ?string $configFile = null): self
    {
        $fromFile = $configFile === null ? [] : self::readFile($configFile);
        $config = new self();
        $problems = [];
        foreach (self::options() as $option) {
            list($property, $flag, $env, , , $parser) = $option;
            $source = null;
            $raw = null;
            if (isset($flags[$property])) {
                list($source, $raw) = [$flag, $flags[$property]];
            } elseif (isset($environ[$env]) && trim((string) $environ[$env]) !== '') {
                list($source, $raw) = [$env . ' (environment)', $environ[$env]];
            } elseif (isset($fromFile[$env]) && trim($fromFile[$env]) !== '') {
                list($source, $raw) = [sprintf('%s (in %s)', $env, $configFile), $fromFile[$env]];
            }
            if ($source === null) {
                continue;
            }
            try {
                $config->$property = self::$parser((string) $raw);
            } catch (\InvalidArgumentException $e) {
                $problems[] = $source . ': ' . $e->getMessage();
            }
        }
        if ($problems) {
            throw new ConfigError(implode("\n", $problems));
        }
        return $config;
    }

    /** The KEY=VALUE pairs of a config file (`#` comments, blank lines, optional quotes). */
    public static function readFile(string $path): array
    {
        if (!is_file($path) || !is_readable($path)) {
            $why = file_exists($path) ? (is_dir($path) ? 'it is a directory' : 'permission denied') : 'no such file';
            throw new ConfigError(sprintf('cannot read config file %s: %s', $path, $why));
        }
        $text = @file_get_contents($path);
        if ($text === false) {
            throw new ConfigError(sprintf('cannot read config file %s', $path));
        }
        if (!preg_match('//u', $text)) {
            throw new ConfigError(sprintf('config file %s is not UTF-8 text', $path));
        }
        $known = [];
        foreach (self::options() as $option) {
            $known[$option[2]] = true;
        }
        $values = [];
        foreach (preg_split('/\r\n|\r|\n/', $text) as $index => $line) {
            $entry = self::entry($line);
            if ($entry === null) {
                continue;
            }
            list($key, $value) = $entry;
            if ($key === '' || !isset($known[$key])) {
                throw new ConfigError(sprintf(
                    '%s:%d: unknown setting %s (known: %s)',
                    $path,
                    $index + 1,
                    var_export($key === '' ? trim($line) : $key, true),
                    implode(', ', array_keys($known))
                ));
            }
            $values[$key] = $value;
        }
        return $values;
    }

    private static function entry(string $line): ?array
    {
        $text = trim($line);
        if ($text === '' || $text[0] === '#') {
            return null;
        }
        if (substr($text, 0, 7) === 'export ') {
            $text = trim(substr($text, 7));
        }
        $parts = explode('=', $text, 2);
        if (count($parts) < 2) {
            return [$text, ''];
        }
        $value = trim($parts[1]);
        $length = strlen($value);
        if ($length >= 2 && $value[0] === $value[$length - 1] && ($value[0] === '"' || $value[0] === "'")) {
            $value = substr($value, 1, -1);
        }
        return [trim($parts[0]), $value];
    }

    // -- parsers: text in, value out, InvalidArgumentException with a reason for people ---------

    public static function parseUrl(string $text): string
    {
        $text = trim($text);
        $scheme = strtolower((string) parse_url($text, PHP_URL_SCHEME));
        $host = parse_url($text, PHP_URL_HOST);
        if (($scheme !== 'http' && $scheme !== 'https') || !is_string($host) || $host === '') {
            throw new \InvalidArgumentException('must be an http:// or https:// URL, e.g. http://localhost:8000/api');
        }
        return rtrim($text, '/');
    }

    public static function parseWorkerId(string $text): string
    {
        $value = trim($text);
        if ($value === '' || strlen($value) > 200 || preg_match('/[\x00-\x1f\x7f]/', $value)) {
            throw new \InvalidArgumentException('must be 1 to 200 printable characters');
        }
        return $value;
    }

    public static function parseTaskTypes(string $text): ?array
    {
        $names = array_values(array_filter(array_map('trim', explode(',', $text)), 'strlen'));
        foreach ($names as $name) {
            if (!preg_match(self::TYPE_PATTERN, $name)) {
                throw new \InvalidArgumentException(sprintf("'%s' is not a task type (letters, digits and _.:- only)", $name));
            }
        }
        if (count($names) > self::MAX_TASK_TYPES) {
            throw new \InvalidArgumentException(sprintf('at most %d task types', self::MAX_TASK_TYPES));
        }
        return $names ? $names : null;
    }

    public static function parsePollInterval(string $text): float
    {
        $value = self::number($text, 0, self::MAX_POLL_INTERVAL, false);
        if ($value <= 0) {
            throw new \InvalidArgumentException(sprintf('must be more than 0 seconds (at most %g)', self::MAX_POLL_INTERVAL));
        }
        return (float) $value;
    }

    public static function parseMaxRuns(string $text): int
    {
        return (int) self::number($text, 0, 1000000000, true);
    }

    public static function parseConcurrency(string $text): int
    {
        return (int) self::number($text, 1, 100, true);
    }

    public static function parseCaBundle(string $text): string
    {
        $path = trim($text);
        $home = getenv('HOME');
        if (substr($path, 0, 2) === '~/' && is_string($home)) {
            $path = $home . substr($path, 1);
        }
        if (!is_file($path) || !is_readable($path)) {
            throw new \InvalidArgumentException(sprintf("no such file: '%s' (a PEM file of trusted certificates)", trim($text)));
        }
        if (strpos((string) file_get_contents($path), '-----BEGIN CERTIFICATE-----') === false) {
            throw new \InvalidArgumentException(sprintf("'%s' holds no certificate in PEM form", trim($text)));
        }
        return $path;
    }

    public static function parseText(string $text): string
    {
        return trim($text);
    }

    public static function parseBoolean(string $text): bool
    {
        $word = strtolower(trim($text));
        if (in_array($word, ['1', 'true', 'yes', 'on'], true)) {
            return true;
        }
        if (in_array($word, ['0', 'false', 'no', 'off'], true)) {
            return false;
        }
        throw new \InvalidArgumentException(sprintf("must be true or false, got '%s'", $text));
    }

    public static function parseMaxErrors(string $text): int
    {
        return (int) self::number($text, 1, 1000000, true);
    }

    public static function parseLogFormat(string $text): string
    {
        $word = strtolower(trim($text));
        if ($word !== 'text' && $word !== 'json') {
            throw new \InvalidArgumentException(sprintf("must be text or json, got '%s'", $text));
        }
        return $word;
    }

    /** @return int|float */
    private static function number(string $text, float $low, float $high, bool $integer)
    {
        $text = trim($text);
        $kind = $integer ? 'a whole number' : 'a number';
        $valid = $integer ? preg_match('/^[+-]?\d+$/', $text) === 1 : (is_numeric($text) && is_finite((float) $text));
        if (!$valid) {
            throw new \InvalidArgumentException(sprintf("must be %s, got '%s'", $kind, $text));
        }
        $value = $integer ? (int) $text : (float) $text;
        if ($value < $low || $value > $high) {
            throw new \InvalidArgumentException(sprintf('must be %s from %g to %g, got %s', $kind, $low, $high, $text));
        }
        return $value;
    }

    /** The --help text. */
    public static function usage(string $program): string
    {
        $lines = [
            sprintf('Usage: php %s [--config=FILE] [--name=value ...]', $program),
            '',
            'Claim tasks from the TaskManager API and run their handlers until stopped.',
            '',
            'Options (each also from its environment variable, or a KEY=VALUE line in --config FILE):',
            sprintf('  %-30s %s', '--config=FILE', 'A KEY=VALUE file of settings (e.g. worker.conf).'),
        ];
        foreach (self::options() as $option) {
            $flag = $option[1] === '--debug' ? '--debug' : $option[1] . '=VALUE';
            $lines[] = sprintf('  %-30s %s [env %s; default: %s]', $flag, $option[4], $option[2], $option[3]);
        }
        $lines[] = '';
        $lines[] = 'A flag wins over the environment, which wins over the file. Exit status: 0 after';
        $lines[] = '--max-runs or a stop signal, 1 when the API is unreachable, fails too often, or a';
        $lines[] = 'second signal cuts the run short, 2 for invalid configuration.';
        return implode("\n", $lines) . "\n";
    }
}
