<?php

use PHPUnit\Framework\TestCase;
use TaskManager\Worker\Config;
use TaskManager\Worker\ConfigError;

final class ConfigTest extends TestCase
{
    /** @var string[] */
    private $files = [];

    protected function tearDown(): void
    {
        foreach ($this->files as $file) {
            @unlink($file);
        }
    }

    private function file(string $text): string
    {
        $path = tempnam(sys_get_temp_dir(), 'worker-conf-');
        file_put_contents($path, $text);
        $this->files[] = $path;
        return $path;
    }

    public function testDefaultsMatchThePythonWorker(): void
    {
        $config = Config::load([], []);
        $this->assertSame('http://localhost:8000/api', $config->apiUrl);
        $this->assertNull($config->taskTypes);
        $this->assertSame(10.0, $config->pollInterval);
        $this->assertSame(0, $config->maxRuns);
        $this->assertSame(1, $config->concurrency);
        $this->assertNull($config->apiKey);
        $this->assertFalse($config->debug);
        $this->assertSame(5, $config->maxConsecutiveErrors);
        $this->assertMatchesRegularExpression('/^.+-\d+-[0-9a-f]{6}$/', $config->workerId);
    }

    public function testFlagOverEnvironmentOverFileOverDefault(): void
    {
        $file = $this->file("# comment\nWORKER_ID=from-file\nPOLL_INTERVAL=7\nMAX_RUNS='3'\nexport DEBUG=yes\n\nTASK_TYPES=\"example.echo\"\n");
        $config = Config::load(
            ['workerId' => 'from-flag'],
            ['WORKER_ID' => 'from-env', 'POLL_INTERVAL' => '4', 'MAX_RUNS' => '  '],
            $file
        );
        $this->assertSame('from-flag', $config->workerId);
        $this->assertSame(4.0, $config->pollInterval);
        $this->assertSame(3, $config->maxRuns);
        $this->assertTrue($config->debug);
        $this->assertSame(['example.echo'], $config->taskTypes);
        $this->assertSame(5, $config->maxConsecutiveErrors);
    }

    public function testEveryInvalidValueIsNamedWithItsSource(): void
    {
        try {
            Config::load(['pollInterval' => '0'], ['MAX_RUNS' => '-1', 'TASKMANAGER_API_URL' => 'localhost:8000'], null);
            $this->fail('no ConfigError');
        } catch (ConfigError $e) {
            $lines = explode("\n", $e->getMessage());
            $this->assertCount(3, $lines);
            $this->assertStringContainsString('TASKMANAGER_API_URL (environment): must be an http:// or https:// URL', $lines[0]);
            $this->assertStringContainsString('--poll-interval: must be more than 0 seconds', $lines[1]);
            $this->assertStringContainsString('MAX_RUNS (environment): must be a whole number from 0', $lines[2]);
        }
    }

    public function testConcurrencyAboveOneIsAcceptedForTheStartToWarnAbout(): void
    {
        $this->assertSame(4, Config::load([], ['CONCURRENCY' => '4'])->concurrency);
        $this->expectException(ConfigError::class);
        $this->expectExceptionMessage('CONCURRENCY (environment): must be a whole number from 1 to 100, got 0');
        Config::load([], ['CONCURRENCY' => '0']);
    }

    public function testCaBundleMustBeAFile(): void
    {
        $file = $this->file("-----BEGIN CERTIFICATE-----\n");
        $this->assertNull(Config::load([], [])->caBundle);
        $this->assertSame($file, Config::load([], ['TASKMANAGER_CA_BUNDLE' => ' ' . $file . ' '])->caBundle);
        $this->assertSame($file, Config::load(['caBundle' => $file], [])->caBundle);
        $this->expectException(ConfigError::class);
        $this->expectExceptionMessage("--ca-bundle: no such file: '/nonexistent/ca.pem' (a PEM file of trusted certificates)");
        Config::load(['caBundle' => '/nonexistent/ca.pem'], []);
    }

    public function testEveryKeyOfThePythonExampleFileIsKnown(): void
    {
        $text = (string) file_get_contents(__DIR__ . '/../../python/worker.conf.example');
        preg_match_all('/^#?\s*([A-Z_]+)=/m', $text, $matches);
        $known = array_map(function (array $option) {
            return $option[2];
        }, Config::options());
        $this->assertContains('TASKMANAGER_CA_BUNDLE', $matches[1]);
        $this->assertSame([], array_values(array_diff($matches[1], $known)));
    }

    public function testUnknownKeyInTheFileNamesItsLine(): void
    {
        $file = $this->file("POLL_INTERVAL=5\nPOLL_INTERVALL=6\n");
        $this->expectException(ConfigError::class);
        $this->expectExceptionMessage($file . ":2: unknown setting 'POLL_INTERVALL'");
        Config::load([], [], $file);
    }

    public function testMissingFileIsAClearErrorWithoutWarnings(): void
    {
        $this->expectException(ConfigError::class);
        $this->expectExceptionMessage('cannot read config file /nonexistent/worker.conf: no such file');
        Config::load([], [], '/nonexistent/worker.conf');
    }

    public function testBadTaskTypeAndBoolean(): void
    {
        try {
            Config::load(['taskTypes' => 'ok.type, bad type', 'debug' => 'maybe'], []);
            $this->fail('no ConfigError');
        } catch (ConfigError $e) {
            $this->assertStringContainsString("--task-types: 'bad type' is not a task type", $e->getMessage());
            $this->assertStringContainsString("--debug: must be true or false, got 'maybe'", $e->getMessage());
        }
    }

    public function testParseArgsTakesBothFlagForms(): void
    {
        $parsed = Config::parseArgs(['--api-url=http://h:1/api', '--worker-id', 'w1', '--debug', '--config=w.conf', '--max-runs=2']);
        $this->assertSame(['apiUrl' => 'http://h:1/api', 'workerId' => 'w1', 'debug' => 'true', 'maxRuns' => '2'], $parsed['flags']);
        $this->assertSame('w.conf', $parsed['config_file']);
        $this->assertFalse($parsed['help']);
        $this->assertTrue(Config::parseArgs(['-h'])['help']);
    }

    public function testParseArgsRefusesUnknownOptionsAndMissingValues(): void
    {
        foreach ([['--colour=red'], ['positional'], ['--max-runs']] as $args) {
            try {
                Config::parseArgs($args);
                $this->fail('accepted ' . implode(' ', $args));
            } catch (ConfigError $e) {
                $this->assertNotSame('', $e->getMessage());
            }
        }
    }

    public function testUrlLosesItsTrailingSlash(): void
    {
        $this->assertSame('https://api.example.com/api', Config::parseUrl(' https://api.example.com/api/ '));
    }

    public function testTheExampleFileLoadsAsDocumented(): void
    {
        $config = Config::load([], [], __DIR__ . '/../worker.conf.example');
        $this->assertSame('http://localhost:8000/api', $config->apiUrl);
        $this->assertSame(10.0, $config->pollInterval);
        $this->assertSame(1, $config->concurrency);
        $this->assertSame('text', $config->logFormat);
    }
}
