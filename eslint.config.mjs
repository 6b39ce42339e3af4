// Type-aware linting for every TypeScript file of the project (typescript-eslint's
// recommendedTypeChecked), formatting left to Prettier (eslint-config-prettier turns off the
// rules that would fight it). `npm run lint` runs both; `npm test` runs `npm run lint`.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'cdk.out/**',
      'node_modules/**',
      '.venv/**',
      'bench/.tmp/**',
      'bench/baseline/**',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  prettier,
);
