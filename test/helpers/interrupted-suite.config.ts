// For teardown.test.ts: the project's own vitest settings, running only the interrupted-suite fixture.
import { defineConfig } from 'vitest/config';
import project from '../../vitest.config.ts';

export default defineConfig({ test: { ...project.test, include: ['test/helpers/interrupted-suite.fixture.ts'] } });
